"""Operations around the course: papermill batches of chapters. Nothing here is imported by
the library's core."""
