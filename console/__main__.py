"""`python -m console`: serves the console with waitress on CONSOLE_PORT."""
import logging

from waitress import serve

from console.app import create_app
from console.settings import ConsoleSettings

THREADS = 16


def main():
    logging.basicConfig(level=logging.INFO)
    settings = ConsoleSettings()
    serve(create_app(settings), host="0.0.0.0", port=settings.port, threads=THREADS)


if __name__ == "__main__":
    main()
