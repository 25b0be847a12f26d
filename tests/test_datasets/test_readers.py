"""TinyImageNet, ImageNet-LT and iNaturalist readers on small fake copies."""
import json

import numpy as np
import pytest
from PIL import Image

from mmghm.datasets import (INaturalist, ImageNetLT, LongTailedDataset,
                            TinyImageNet)
from mmghm.registry import DATASETS

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def write_image(path, value, size=8):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)


# -- TinyImageNet ------------------------------------------------------------
# wnids.txt is not sorted in the official release; labels follow sorted ids.
WNIDS = ['n09999999', 'n01443537', 'n02000000']


@pytest.fixture
def tiny_root(tmp_path):
    root = tmp_path / 'tiny-imagenet-200'
    root.mkdir()
    (root / 'wnids.txt').write_text('\n'.join(WNIDS) + '\n')
    for k, wnid in enumerate(WNIDS):
        for j in range(k + 2):  # 2, 3, 4 images
            write_image(root / 'train' / wnid / 'images' /
                        f'{wnid}_{j}.JPEG', 10 * k + j)
        (root / 'train' / wnid / f'{wnid}_boxes.txt').write_text('')
    lines = []
    for j, wnid in enumerate(['n02000000', 'n01443537', 'n09999999',
                              'n01443537']):
        write_image(root / 'val' / 'images' / f'val_{j}.JPEG', 100 + j)
        lines.append(f'val_{j}.JPEG\t{wnid}\t0\t0\t7\t7')
    (root / 'val' / 'val_annotations.txt').write_text('\n'.join(lines))
    return root


def test_tiny_imagenet_train_and_val(tiny_root):
    train = TinyImageNet(str(tiny_root), split='train', pipeline=PIPELINE)
    assert train.metainfo['classes'] == tuple(sorted(WNIDS))
    # sorted: n01443537 (3 images), n02000000 (4), n09999999 (2)
    assert train.get_gt_labels().tolist() == [0] * 3 + [1] * 4 + [2] * 2
    info = train.get_data_info(0)
    assert info['img_path'].endswith(
        'train/n01443537/images/n01443537_0.JPEG')
    item = train[0]
    assert tuple(item['inputs'].shape) == (3, 8, 8)
    assert int(item['inputs'][0, 0, 0]) == 10  # value 10 * k + j, k=1, j=0

    val = TinyImageNet(str(tiny_root), split='val')
    assert val.get_gt_labels().tolist() == [1, 0, 2, 0]
    assert val.get_data_info(2)['img_path'].endswith('val/images/val_2.JPEG')

    built = DATASETS.build(
        dict(type='mmghm.TinyImageNet', data_root=str(tiny_root)))
    assert len(built) == 9
    lt = LongTailedDataset(train, imbalance_factor=2)
    assert lt.metainfo['class_counts'] == [2, 1, 1]


def test_tiny_imagenet_errors(tiny_root, tmp_path):
    with pytest.raises(ValueError, match="split must be one of"):
        TinyImageNet(str(tiny_root), split='test')
    with pytest.raises(FileNotFoundError, match='wnids.txt not found'):
        TinyImageNet(str(tmp_path / 'nowhere'))
    (tiny_root / 'val' / 'val_annotations.txt').write_text(
        'val_0.JPEG\tn01443537\nval_1.JPEG\tn12345678\t0\t0\t1\t1\n')
    with pytest.raises(ValueError,
                       match="line 2 names 'n12345678', which is not in"):
        TinyImageNet(str(tiny_root), split='val')
    (tiny_root / 'val' / 'val_annotations.txt').write_text('garbage\n')
    with pytest.raises(ValueError, match='line 1 is malformed'):
        TinyImageNet(str(tiny_root), split='val')
    (tiny_root / 'wnids.txt').write_text('\n'.join(WNIDS + ['n07777777']))
    with pytest.raises(FileNotFoundError,
                       match='train/n07777777/images not found'):
        TinyImageNet(str(tiny_root), split='train')


# -- ImageNet-LT ------------------------------------------------------------
@pytest.fixture
def imagenet_lt_root(tmp_path):
    root = tmp_path / 'imagenet'
    rows = [('train/n01440764/n01440764_1.JPEG', 0),
            ('train/n01440764/n01440764_2.JPEG', 0),
            ('train/n01443537/n01443537_7.JPEG', 1),
            ('train/n15075141/n15075141_3.JPEG', 999)]
    for k, (path, _) in enumerate(rows):
        write_image(root / path, 40 + k)
    (root / 'ImageNet_LT_train.txt').write_text(
        '\n'.join(f'{p} {l}' for p, l in rows) + '\n\n')
    (root / 'meta').mkdir()
    (root / 'meta' / 'val.txt').write_text(
        'train/n01443537/n01443537_7.JPEG 1\n')
    return root


def test_imagenet_lt(imagenet_lt_root):
    train = ImageNetLT(str(imagenet_lt_root), split='train',
                       pipeline=PIPELINE)
    assert len(train.metainfo['classes']) == 1000
    assert train.metainfo['classes'][0].startswith('tench')
    assert train.get_gt_labels().tolist() == [0, 0, 1, 999]
    assert train.get_data_info(3)['img_path'].endswith(
        'train/n15075141/n15075141_3.JPEG')
    assert int(train[2]['inputs'][0, 0, 0]) == 42
    val = DATASETS.build(
        dict(type='mmghm.ImageNetLT', data_root=str(imagenet_lt_root),
             ann_file='meta/val.txt', split='val'))
    assert val.get_gt_labels().tolist() == [1]


@pytest.mark.parametrize('content, match', [
    ('train/a.JPEG 0\ntrain/b.JPEG\n', r'line 2 is malformed'),
    ('train/a.JPEG zero\n', r'line 1 is malformed'),
    ('train/a.JPEG 0\ntrain/b.JPEG 1000\n', r'line 2 has label 1000, '
     r'outside the 1000 classes'),
    ('\n', 'lists no image'),
])
def test_imagenet_lt_errors(tmp_path, content, match):
    (tmp_path / 'ImageNet_LT_train.txt').write_text(content)
    with pytest.raises(ValueError, match=match):
        ImageNetLT(str(tmp_path))


def test_imagenet_lt_missing_list(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'ImageNet_LT_test\.txt not found'):
        ImageNetLT(str(tmp_path), split='test')


# -- iNaturalist ------------------------------------------------------------
def inat_json(category_ids=(0, 1, 2)):
    images = [dict(id=10 + i, file_name=f'train_val_images/Aves/s{i}.jpg',
                   width=8, height=8) for i in range(5)]
    # image i has category category_ids[i % 3]
    annotations = [dict(id=i, image_id=10 + i,
                        category_id=category_ids[i % 3]) for i in range(5)]
    categories = [dict(id=c, name=f'species {c}', supercategory='Aves')
                  for c in reversed(category_ids)]
    return dict(images=images, annotations=annotations,
                categories=categories, info={}, licenses=[])


def test_inaturalist(tmp_path):
    (tmp_path / 'train2017.json').write_text(json.dumps(inat_json()))
    write_image(tmp_path / 'train_val_images' / 'Aves' / 's3.jpg', 77)
    ds = INaturalist(str(tmp_path), ann_file='train2017.json',
                     pipeline=PIPELINE)
    assert ds.metainfo['classes'] == ('species 0', 'species 1', 'species 2')
    assert ds.get_gt_labels().tolist() == [0, 1, 2, 0, 1]
    assert ds.get_data_info(3)['img_path'].endswith(
        'train_val_images/Aves/s3.jpg')
    assert int(ds[3]['inputs'][0, 0, 0]) == 77
    # Non-contiguous ids index the categories sorted by id.
    (tmp_path / 'val2018.json').write_text(json.dumps(inat_json((4, 7, 9))))
    ds = DATASETS.build(dict(type='mmghm.INaturalist',
                             data_root=str(tmp_path),
                             ann_file='val2018.json'))
    assert ds.metainfo['classes'] == ('species 4', 'species 7', 'species 9')
    assert ds.get_gt_labels().tolist() == [0, 1, 2, 0, 1]


def _broken(kind):
    ann = inat_json()
    if kind == 'no_annotations':
        del ann['annotations']
    elif kind == 'bad_category':
        ann['annotations'][1]['category_id'] = 42
    elif kind == 'double':
        ann['annotations'].append(dict(id=9, image_id=10, category_id=1))
    elif kind == 'unlabelled_image':
        ann['images'].append(dict(id=99, file_name='x.jpg'))
    elif kind == 'orphan':
        ann['annotations'][0]['image_id'] = 1234
    elif kind == 'field':
        del ann['images'][2]['file_name']
    return json.dumps(ann)


@pytest.mark.parametrize('kind, match', [
    ('no_annotations', "no 'annotations' list"),
    ('bad_category', r'annotations\[1\] has category_id 42'),
    ('double', 'image 10 has more than one annotation'),
    ('unlabelled_image', r'image 99 \(x.jpg\) has no annotation'),
    ('orphan', r'image ids \[1234\] not among the images'),
    ('field', r"images\[2\] .* lacks one of the fields \('id', 'file_name'\)"),
    ('json', 'not valid JSON'),
])
def test_inaturalist_errors(tmp_path, kind, match):
    path = tmp_path / 'train2017.json'
    path.write_text('{"images": [' if kind == 'json' else _broken(kind))
    with pytest.raises(ValueError, match=match) as info:
        INaturalist(str(tmp_path), ann_file='train2017.json')
    assert 'train2017.json' in str(info.value)


def test_inaturalist_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='val2017.json not found'):
        INaturalist(str(tmp_path), ann_file='val2017.json')
    with pytest.raises(ValueError, match='needs ann_file'):
        INaturalist(str(tmp_path))
