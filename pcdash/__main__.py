import signal

# Before anything else (and before any thread starts): Ctrl-C and SIGTERM wait for the watcher
# thread of pcdash.cli.exit_on_signals, which ends the program cleanly.
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})

import sys  # noqa: E402

from pcdash.cli import exit_on_signals, main  # noqa: E402

exit_on_signals()
sys.exit(main())
