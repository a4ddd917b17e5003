# Prints without end: the output limit must stop it before it fills the disk.
def build_model(info):
    line = "spam " * 200
    while True:
        print(line)
