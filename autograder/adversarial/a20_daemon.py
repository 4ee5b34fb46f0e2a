"""Leave a background process behind: double fork, ``setsid``, ignore SIGTERM/SIGHUP,
then ``exec`` a shell that sleeps and then tries to touch the gradebook.

Ends with the run: the sandbox's init is PID 1 of its own PID namespace, and when it
exits the kernel kills every process left in it. The suite checks that no process
carrying this attack's token is alive afterwards.
"""

CATEGORY = "process escape"
REQUIRES = ("pid_namespace",)
MARKS = ("no_survivor",)

APPEND = [
    '''import os
import signal

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        os.execv("/bin/sh", ["/bin/sh", "-c",
                             f"sleep 6; echo pwned >> {ATTACK['gradebook']}",
                             ATTACK["token"]])
    os._exit(0)
print("daemon started")
''',
]
