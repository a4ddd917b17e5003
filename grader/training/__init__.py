"""Training: the fixed-budget loop (`loop`) and batched augmentation on the device
(`augment`). Runs in the child; every file here is part of the baseline cache key.
"""
