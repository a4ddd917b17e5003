"""Not imported by the hooks: a plotting script the student ran on their own machine."""
import matplotlib.pyplot as plt

plt.plot([1, 2, 3])
