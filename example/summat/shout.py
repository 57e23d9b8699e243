# example/summat/shout.py: a block of your own in a pipe
from owt.summat import ValueBlock, pipe  # adaptors have both without an import


class Shout(ValueBlock):
    def apply(self, value):
        return value.upper() + "!"


run = pipe().kwarg("text").to(Shout()).done()
