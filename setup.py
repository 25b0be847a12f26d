"""Installation of mmghm, with MMPretrain's mim layout.

``configs/`` and ``tools/`` are shipped inside the package (``mmghm/.mim``),
so that after ``pip install`` a user config can inherit ``mmghm::...``.
"""
import os
import os.path as osp
import shutil
import sys
import warnings

from setuptools import find_packages, setup


def readme() -> str:
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def get_version() -> str:
    scope: dict = {}
    with open(osp.join('mmghm', 'version.py'), encoding='utf-8') as f:
        exec(compile(f.read(), 'mmghm/version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname: str) -> list:
    """Read requirement lines, skipping comments and ``-r`` includes."""
    reqs = []
    with open(fname, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-'):
                reqs.append(line)
    return reqs


def add_mim_extension() -> None:
    """Put ``configs`` and ``tools`` into ``mmghm/.mim``.

    Symlinks for editable installs (``pip install -e .``), copies for normal
    installs and wheels, as MMPretrain does.
    """
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif any(arg in sys.argv for arg in ('sdist', 'bdist_wheel', 'install')):
        mode = 'copy'
    else:
        return
    repo_path = osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(repo_path, 'mmghm', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in ('configs', 'tools', 'model-index.yml'):
        src = osp.join(repo_path, name)
        tar = osp.join(mim_path, name)
        if osp.islink(tar) or osp.isfile(tar):
            os.remove(tar)
        elif osp.isdir(tar):
            shutil.rmtree(tar)
        if mode == 'symlink':
            try:
                os.symlink(osp.relpath(src, mim_path), tar)
                continue
            except OSError:
                warnings.warn(f'Cannot link {src} to {tar}; copying instead.')
        if osp.isfile(src):
            shutil.copyfile(src, tar)
        else:
            shutil.copytree(src, tar)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmghm',
        version=get_version(),
        description='GHM-CWAP and long-tailed recognition baselines as an '
        'OpenMMLab (MMPretrain) plugin',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='long-tailed recognition, gradient harmonizing, mmpretrain',
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        include_package_data=True,
        package_data={
            'mmghm': ['.mim/configs/**/*', '.mim/tools/**/*',
                      'results/*.yml']
        },
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'tests': parse_requirements('requirements/tests.txt'),
            # Classification only: the light mmcv without compiled ops.
            'lite': ['mmcv-lite>=2.0.0,<2.4.0'],
            # Detection / segmentation need the full mmcv with ops.
            'mim': parse_requirements('requirements/mminstall.txt'),
        },
        zip_safe=False)
