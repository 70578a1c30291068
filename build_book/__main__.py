import atexit
import os
import sys
import threading

from .cli import main

code = main()
if threading.active_count() > 1:
    sys.exit(code)
# Python's own exit then takes every object of the build apart, one by one (60-120 ms after an edit build,
# the command's last moments): what an exit must do is done here, the callbacks registered with atexit
# (temporary folders, worker pools) and the output flushed, and the process ends without the rest.
atexit._run_exitfuncs()
try:
    sys.stdout.flush()
    sys.stderr.flush()
except BrokenPipeError:
    pass
os._exit(0 if code is None else code if isinstance(code, int) else 1)
