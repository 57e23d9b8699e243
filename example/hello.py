# example/hello.py: the adaptor the README's calling examples send
def run(name):
    return f"Hello, {name}!"
