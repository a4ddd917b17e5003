"""Your submission for the TinyCNN improvement lab.

Edit the three files in this folder; each hook is explained where it is defined:
  transforms.py    - data augmentation and preprocessing
  model.py         - the network
  improvements.py  - optimizer, loss, learning-rate schedule and training knobs

Check your work before submitting (from the folder that holds this one):
  grade --local student_template --quick      # a 1-minute smoke run, unofficial
  grade --local student_template              # the full rubric, as it will be graded

Any hook you delete falls back to the baseline's, so a partial submission still runs.
"""
