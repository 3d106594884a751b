"""The program of hitl serve's analyst process (hitl_cli.statements.analyst_process starts it, with sys.argv
[REQUESTS_FD, REPLIES_FD, PARENT_PID] after the program's name)."""

import sys

from hitl_cli.statements.framing import serve

if __name__ == "__main__":
    requests_fd, replies_fd, parent = (int(argument) for argument in sys.argv[1:4])
    serve(requests_fd, replies_fd, parent)
