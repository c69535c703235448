"""`python -m door`: serves the Open311 door with waitress on DOOR_PORT."""
import logging

from waitress import serve

from door.app import create_app
from door.settings import DoorSettings

THREADS = 16


def main():
    logging.basicConfig(level=logging.INFO)
    settings = DoorSettings()
    serve(create_app(settings), host="0.0.0.0", port=settings.port, threads=THREADS)


if __name__ == "__main__":
    main()
