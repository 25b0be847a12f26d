"""Suite-wide test hygiene: tests pass in any order.

1. Global state that tests (mostly MMEngine Runners) change is saved before
   and restored after every test and every test module: MMEngine's
   process-wide instances (the default scope, message hub, loggers,
   visualizers), its config-package table, the random generators of Python,
   NumPy and PyTorch, PyTorch's default dtype, thread count and grad mode,
   the multiprocessing start method, OpenCV's thread count, environment
   variables, the working directory and ``sys.path``. A Runner built with
   ``default_scope='mmghm'`` made later, unrelated builds fail before this
   (``ImageClassifier is not in the mmghm::model registry``).
2. The tests run in a random order by default: the modules are shuffled
   and, within each, the tests, but a module's tests stay together so that
   its module-scoped fixtures (real trainings) are set up once. The seed is
   printed in the header and the summary; ``--order-seed N`` reruns an
   order, ``--order forward`` (collection order) and ``--order reverse``
   are the fixed ones. So every run, CI's included, also checks that the
   tests pass in any order. With pytest-xdist (``-n 2 --dist loadfile``,
   README's command) the workers share the controller's seed, and each
   module runs whole on one worker, in the shuffled order.

A small option rather than a plugin (pytest-randomly, pytest-random-order):
nothing to install in CI or in the downstream environment, and the
definition of "random" (modules kept whole) is stated here.
"""
import multiprocessing
import os
import random
import sys
from collections import OrderedDict, defaultdict

import numpy as np
import pytest
import torch

ORDERS = ('forward', 'reverse', 'random')
SEED = pytest.StashKey[int]()
WORKER_SEED = 'mmghm_order_seed'


# ---------------------------------------------------------------------------
# test order
# ---------------------------------------------------------------------------
def pytest_addoption(parser):
    group = parser.getgroup('mmghm', 'mmghm test order')
    group.addoption(
        '--order', choices=ORDERS, default='random',
        help='run the tests shuffled (default: modules and the tests within '
        'each module, seed printed), in collection order, or reversed')
    group.addoption(
        '--order-seed', type=int, default=None,
        help='seed of --order random (default: a fresh one, printed)')


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'subprocess: trains or launches through separate '
        'processes (tools/train.py, torchrun, spawned ranks), which share no '
        'in-process state with other tests (-m "not subprocess" leaves '
        'them out for a quick run)')
    seed = config.getoption('order_seed')
    # a pytest-xdist worker takes the controller's seed, so that every
    # worker collects the same order (xdist refuses differing collections)
    seed = getattr(config, 'workerinput', {}).get(WORKER_SEED, seed)
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    config.stash[SEED] = seed


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist (controller): hand each worker the order's seed."""
    node.workerinput[WORKER_SEED] = node.config.stash[SEED]


def _order_line(config) -> str:
    order = config.getoption('order')
    if order != 'random':
        return f'test order: {order}'
    seed = config.stash[SEED]
    return f'test order: random, seed {seed} (rerun: --order-seed {seed})'


def pytest_report_header(config):
    return _order_line(config)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    terminalreporter.write_line(_order_line(config))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    order = config.getoption('order')
    if order == 'reverse':
        items.reverse()
    elif order == 'random':
        rng = random.Random(config.stash[SEED])
        by_module = defaultdict(list)  # insertion-ordered: reproducible
        for item in items:
            by_module[item.nodeid.split('::', 1)[0]].append(item)
        modules = list(by_module.values())
        rng.shuffle(modules)
        for module_items in modules:
            rng.shuffle(module_items)
        items[:] = [item for module_items in modules
                    for item in module_items]


# ---------------------------------------------------------------------------
# global state
# ---------------------------------------------------------------------------
def _manager_classes():
    """Every class with MMEngine's global instances (``ManagerMixin``):
    DefaultScope, MessageHub, MMLogger, Visualizer and their subclasses."""
    from mmengine.utils import ManagerMixin
    found, todo = [], [ManagerMixin]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


class GlobalState:
    """A snapshot of the process-wide state tests may change."""

    def __init__(self):
        from mmengine.config import utils as config_utils
        self.managers = {
            cls: list(cls._instance_dict.items())
            for cls in _manager_classes()
        }
        self.packages = dict(config_utils.MODULE2PACKAGE)
        self.py_rng = random.getstate()
        self.np_rng = np.random.get_state()
        self.torch_rng = torch.get_rng_state()
        self.dtype = torch.get_default_dtype()
        self.threads = torch.get_num_threads()
        self.grad = torch.is_grad_enabled()
        self.deterministic = torch.are_deterministic_algorithms_enabled()
        self.start_method = multiprocessing.get_start_method(allow_none=True)
        self.cv2_threads = self._cv2_threads()
        self.environ = self._environ()
        self.cwd = os.getcwd()
        self.path = list(sys.path)

    @staticmethod
    def _environ():
        # pytest's own PYTEST_CURRENT_TEST changes with every test phase.
        return {k: v for k, v in os.environ.items()
                if k != 'PYTEST_CURRENT_TEST'}

    @staticmethod
    def _cv2_threads():
        cv2 = sys.modules.get('cv2')
        return None if cv2 is None else cv2.getNumThreads()

    def restore(self):
        from mmengine.config import utils as config_utils
        for cls in _manager_classes():
            saved = self.managers.get(cls, [])
            current = cls._instance_dict
            if [(k, id(v)) for k, v in current.items()] != \
                    [(k, id(v)) for k, v in saved]:
                # Instances made since are dropped: close what they opened
                # (MMLogger's file handlers in deleted work dirs).
                kept = {id(v) for _, v in saved}
                for instance in current.values():
                    if id(instance) not in kept:
                        for handler in getattr(instance, 'handlers', []):
                            handler.close()
                # overwrite_default_scope replaces the dict, so assign too.
                cls._instance_dict = OrderedDict(saved)
        if config_utils.MODULE2PACKAGE != self.packages:
            config_utils.MODULE2PACKAGE.clear()
            config_utils.MODULE2PACKAGE.update(self.packages)
        random.setstate(self.py_rng)
        np.random.set_state(self.np_rng)
        torch.set_rng_state(self.torch_rng)
        torch.set_default_dtype(self.dtype)
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        torch.set_grad_enabled(self.grad)
        if torch.are_deterministic_algorithms_enabled() != self.deterministic:
            torch.use_deterministic_algorithms(self.deterministic)
        if multiprocessing.get_start_method(allow_none=True) != \
                self.start_method:
            multiprocessing.set_start_method(self.start_method, force=True)
        if self.cv2_threads is not None and \
                self._cv2_threads() != self.cv2_threads:
            sys.modules['cv2'].setNumThreads(self.cv2_threads)
        environ = self._environ()
        if environ != self.environ:
            for key in set(environ) - set(self.environ):
                del os.environ[key]
            os.environ.update(self.environ)
        if os.getcwd() != self.cwd:
            os.chdir(self.cwd)
        sys.path[:] = self.path


@pytest.fixture(autouse=True, scope='module')
def _restore_global_state_per_module():
    """Undo what a module's fixtures (e.g. trainings run once per module)
    changed; autouse, so set up before them and torn down after them."""
    state = GlobalState()
    yield
    state.restore()


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Undo what a test changed (see the module docstring)."""
    state = GlobalState()
    yield
    state.restore()


# ---------------------------------------------------------------------------
# 2-process (gloo) tests
# ---------------------------------------------------------------------------
@pytest.fixture
def dist_init_method(tmp_path):
    """``init_method`` of a 2-process gloo test: a ``file://`` rendezvous in
    the test's own temp dir. A TCP port picked in advance may be taken by
    another process before rank 0 listens on it; this file cannot be."""
    return (tmp_path / 'dist_init').as_uri()
