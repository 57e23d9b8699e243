# example/ticker.py: count to n as server-sent events, a tenth of a second apart
import time


def run(n=3):
    def ticks():
        for i in range(1, n + 1):
            yield f"data: tick {i}\n\n"
            time.sleep(0.1)

    return ticks(), {"Content-Type": "text/event-stream"}
