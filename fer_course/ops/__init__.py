"""Operations and the front door: the one-call photo prediction (``predict``), the command
line (``cli``), the first cell of a chapter in Colab (``colab``), papermill batches of
chapters (``batch``, ``chapter_job``, ``cluster``). Nothing here is imported by the library's
core."""
