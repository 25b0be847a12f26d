"""Annotation files are data: the image paths they list must stay inside
the data root, and a CIFAR-10 zip without a split is refused at unpacking.

Each attack is built here: a list whose entry leads out of the data root
(``../../../../etc/hostname``, an absolute path, a URL) next to a file
outside the root that would otherwise become a training image.
"""
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from mmghm.datasets import INaturalist, ImageNetLT, TinyImageNet
from mmghm.datasets.utils import check_relative_path, prepare_cifar10_jpeg

ESCAPES = [
    ('../outside.JPEG', 'leads out of the data root'),
    ('train/../../outside.JPEG', 'leads out of the data root'),
    ('../../../../etc/hostname', 'leads out of the data root'),
    ('/etc/hostname', 'is absolute'),
    ('http://example.com/x.jpg', 'is a URL'),
    ('train\\..\\..\\outside.JPEG', 'holds a backslash'),
]


def write_image(path, value=7):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)


@pytest.fixture
def root_with_outside(tmp_path):
    """``tmp/data`` (the data root) and ``tmp/outside.JPEG`` beside it."""
    write_image(tmp_path / 'outside.JPEG', 99)
    root = tmp_path / 'data'
    for k in range(10):  # 10 classes, one image each
        write_image(root / 'train' / f'n{k:08d}' / f'img_{k}.JPEG', k)
    return root


@pytest.mark.parametrize('path, problem', ESCAPES)
def test_imagenet_lt_refuses_a_path_leaving_the_data_root(
        root_with_outside, path, problem):
    lines = [f'train/n{k:08d}/img_{k}.JPEG {k}' for k in range(10)]
    lines.insert(3, f'{path} 0')  # line 4
    (root_with_outside / 'ImageNet_LT_train.txt').write_text(
        '\n'.join(lines) + '\n')
    with pytest.raises(ValueError) as info:
        ImageNetLT(str(root_with_outside))
    message = str(info.value)
    assert 'ImageNet_LT_train.txt line 4' in message
    assert repr(path) in message and problem in message


def test_imagenet_lt_keeps_paths_inside_the_root(root_with_outside):
    lines = [f'train/./n{k:08d}/img_{k}.JPEG {k}' for k in range(10)]
    lines.append('train/n00000001/../n00000002/img_2.JPEG 2')  # stays in
    (root_with_outside / 'ImageNet_LT_train.txt').write_text(
        '\n'.join(lines) + '\n')
    ds = ImageNetLT(str(root_with_outside))
    assert len(ds) == 11
    assert ds.get_data_info(0)['img_path'] == str(
        root_with_outside / 'train' / 'n00000000' / 'img_0.JPEG')
    assert ds.get_data_info(10)['img_path'] == str(
        root_with_outside / 'train' / 'n00000002' / 'img_2.JPEG')
    assert ds.get_gt_labels().tolist() == list(range(10)) + [2]


@pytest.mark.parametrize('path, problem', ESCAPES[:4])
def test_inaturalist_refuses_a_file_name_leaving_the_data_root(
        root_with_outside, path, problem):
    images = [dict(id=k, file_name=f'train/n{k:08d}/img_{k}.JPEG')
              for k in range(10)]
    images[5]['file_name'] = path
    ann = dict(images=images,
               annotations=[dict(id=k, image_id=k, category_id=k)
                            for k in range(10)],
               categories=[dict(id=k, name=f'c{k}') for k in range(10)])
    (root_with_outside / 'train2017.json').write_text(json.dumps(ann))
    with pytest.raises(ValueError) as info:
        INaturalist(str(root_with_outside), ann_file='train2017.json')
    message = str(info.value)
    assert 'train2017.json: image 5' in message
    assert repr(path) in message and problem in message


def tiny_root(tmp_path, wnids, val_name='val_0.JPEG'):
    root = tmp_path / 'tiny-imagenet-200'
    (root / 'val' / 'images').mkdir(parents=True)
    (root / 'wnids.txt').write_text('\n'.join(wnids) + '\n')
    (root / 'val' / 'val_annotations.txt').write_text(
        f'{val_name}\tn00000000\t0\t0\t7\t7\n')
    return root


def test_tiny_imagenet_refuses_a_wnid_or_image_that_is_a_path(tmp_path):
    wnids = [f'n{k:08d}' for k in range(10)]
    root = tiny_root(tmp_path / 'a', wnids + ['../../../../etc'])
    with pytest.raises(ValueError, match=r"wnids\.txt line 11: image path "
                       r"'\.\./\.\./\.\./\.\./etc' leads out of the data "
                       'root'):
        TinyImageNet(str(root), split='train')
    root = tiny_root(tmp_path / 'b', wnids + ['sub/n1'])
    with pytest.raises(ValueError, match=r"'sub/n1' is not a single file"):
        TinyImageNet(str(root), split='train')
    root = tiny_root(tmp_path / 'c', wnids,
                     val_name='../../../outside.JPEG')
    with pytest.raises(ValueError, match=r'val_annotations\.txt line 1: '
                       r"image path '\.\./\.\./\.\./outside\.JPEG' leads"):
        TinyImageNet(str(root), split='val')


def test_check_relative_path_normalises_what_it_accepts():
    assert check_relative_path('a/./b//c.jpg', 'x') == 'a/b/c.jpg'
    assert check_relative_path('a/../b.jpg', 'x') == 'b.jpg'
    for bad in ('', '..', 'a/../../b', '/a', 'C:/a', 's3://b/a', 'a\x00b'):
        with pytest.raises(ValueError, match='x: image path'):
            check_relative_path(bad, 'x')


@pytest.mark.parametrize('present, missing', [
    (('train', ), 'test/'),
    (('test', ), 'train/'),
    ((), 'train/ and no test/'),
])
def test_cifar_zip_without_a_split_is_refused_at_unpacking(
        tmp_path, present, missing):
    zip_path = tmp_path / 'cifar10-jpeg.zip'
    with zipfile.ZipFile(zip_path, 'w') as zf:
        for split in present:
            for k in range(10):
                zf.writestr(f'{split}/class{k}/0000.jpg', b'x')
        zf.writestr('README', b'CIFAR-10')
        zf.writestr('test/', b'')  # an empty folder is not a split
    cache = tmp_path / 'cache' / 'mmghm_cifar10'
    with pytest.raises(ValueError, match=f'holds no {missing} split'):
        prepare_cifar10_jpeg(cache, zip_path)
    # nothing unpacked, nothing marked complete
    assert not cache.exists()
    assert list(cache.parent.iterdir()) == []
