# example/bits.py: two functions; fn_name picks one (run by default)
def run(n):
    return n + 1


def main(n):
    return f"{n} takes {n.bit_length()} bits"
