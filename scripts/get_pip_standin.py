"""Stand-in for get-pip.py, which ansible-test downloads from a host these machines cannot reach.

ansible-test runs ``python get_pip_24_2.py [pip options] pip==X`` to bootstrap pip in the virtual
environments it builds. This does the same with ensurepip and PyPI: scripts/work-home.sh copies it to
~/.ansible/test/cache/get_pip_<version>.py of the work home (.work/home of the checkout), never into the
user's own home.
"""

import subprocess
import sys

UNSUPPORTED = {"--no-setuptools", "--no-wheel"}

subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], check=True)
arguments = [arg for arg in sys.argv[1:] if arg not in UNSUPPORTED]
subprocess.run([sys.executable, "-m", "pip", "install", *arguments], check=True)
