"""Your own face (chapter 6): Viola-Jones detection and its Haar features, FER-style crops,
faces pasted into photos for a detection check, Grad-CAM, and classifying a photo."""
