"""Use the kernel's keyrings, which are not namespaced: add a key to uid 65534's user
keyring and to the session keyring (a later submission running as the same uid could
read it: a channel between students), and search the inherited session keyring for a
key the grading user put there (this suite adds one before grading).

Gets nothing: each run joins a fresh, empty session keyring, and the seccomp filter
refuses ``add_key``, ``request_key`` and ``keyctl`` (EPERM).
"""

CATEGORY = "kernel keyrings"
MARKS = ("keyrings",)

APPEND = [
    '''import ctypes, os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
ADD_KEY, REQUEST_KEY, KEYCTL = {"x86_64": (248, 249, 250),
                                "aarch64": (217, 218, 219)}[os.uname().machine]
for ring in (-4, -5, -3):  # user, user-session, session
    ret = libc.syscall(ADD_KEY, b"user", b"cnnlab-adv-key", b"adv-key-payload", 15, ring)
    print("add_key", ring, ret, os.strerror(ctypes.get_errno()) if ret < 0 else "")
key = libc.syscall(REQUEST_KEY, b"user", b"cnnlab-grader-key", None, 0)
buf = ctypes.create_string_buffer(200)
if key >= 0:
    n = libc.syscall(KEYCTL, 11, key, buf, 200)  # KEYCTL_READ
    print("grader key:", buf.raw[:max(n, 0)])
else:
    print("request_key", os.strerror(ctypes.get_errno()))
''',
]
