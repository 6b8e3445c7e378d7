#!/usr/bin/python3
# Types one answer into a program on a pseudo-terminal of its own (its controlling terminal, as
# at a console or over ssh -t), as a person would: once the screen shows MARKER and the
# terminal's echo is off (systemd's agents print the question before they turn echo off, so
# typing on sight could be echoed). The answer comes on standard input, never in an argument.
# Prints what the screen showed, then "echo after exit: True|False" (the terminal reopened once
# the program is gone: did it restore echo?); exits with the program's exit code. The lab and the
# .NET tests (PseudoTerminalTypist) both use it.
# Usage: printf '%s\n' "$answer" | pty-type.py MARKER PROGRAM [ARGS...]
import fcntl, os, sys, termios, time

marker, answer = sys.argv[1].encode(), sys.stdin.buffer.read()
master, slave = os.openpty()
name = os.ttyname(slave)
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.close(master)
    os.close(slave)
    os.execvp(sys.argv[2], sys.argv[2:])
os.close(slave)


def echoing():
    fd = os.open(name, os.O_RDWR | os.O_NOCTTY)
    try:
        return termios.tcgetattr(fd)[3] & termios.ECHO != 0
    finally:
        os.close(fd)


seen, typed = b"", False
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        chunk = b""
    if not chunk:
        break
    seen += chunk
    if not typed and marker in seen:
        while echoing():
            time.sleep(0.01)
        os.write(master, answer)
        typed = True
status = os.waitpid(pid, 0)[1]
sys.stdout.buffer.write(seen + b"\necho after exit: " + str(bool(echoing())).encode() + b"\n")
sys.exit(os.waitstatus_to_exitcode(status))
