# Asks for more epochs and a bigger batch than the budget: clamped, and the budget check fails.
EPOCHS = 1000
BATCH_SIZE = 100000
