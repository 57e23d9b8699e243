def run(name):
    return f"Hello, {name}!"
