"""What the pages show: figures, tables and widgets. Views read runs; they never train."""
