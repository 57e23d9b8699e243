# owt/playground/examples/error.py: the mean of no numbers divides by zero


def mean(numbers: list[float]) -> float:
    return sum(numbers) / len(numbers)


def run(numbers: list[float] | None = None) -> float:
    return mean(numbers or [])
