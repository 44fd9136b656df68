"""The one training engine (``loop``) and the tasks it runs: a backbone (chapter 2), the
autoencoder's three tasks (chapters 4 and 5), their schedules, and named course runs."""
