"""The files FER-2013 comes in: Kaggle's csv, image folders, the library's npz cache, and
writers for each (tests and conversions)."""
