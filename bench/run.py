"""fastbp's benchmark suite from a source checkout: `fastbp bench` (the
package's fastbp.bench) writing bench/RESULTS.md and bench/results.png beside
this file. The options, what it measures and how: fastbp/bench/__init__.py,
or `python bench/run.py --help`.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py
    python bench/run.py [--quick] [--repeats N] [--only S,M,L,D,digits,options] [--out PATH]
"""
import os
import sys

from fastbp.bench import main

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.exit(main(out=os.path.join(here, "RESULTS.md"), command="python bench/run.py"))
