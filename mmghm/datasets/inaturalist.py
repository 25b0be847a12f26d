"""iNaturalist 2017 / 2018 from the official COCO-style JSON files."""
from typing import List, Optional

from mmengine.fileio import exists, get_file_backend, load
from mmpretrain.datasets import BaseDataset

from mmghm.registry import DATASETS
from .utils import check_relative_path


@DATASETS.register_module()
class INaturalist(BaseDataset):
    """iNaturalist 2017 (5,089 classes) and 2018 (8,142 classes).

    Reads the official annotation files (``train2017.json``,
    ``val2017.json``, ``train2018.json``, ``val2018.json``)::

        {"images":      [{"id": 1, "file_name": "train_val_images/...jpg"}],
         "annotations": [{"image_id": 1, "category_id": 42}],
         "categories":  [{"id": 42, "name": "Parus major"}]}

    ``file_name`` is relative to ``data_root`` (and ``data_prefix``). Labels
    index the categories sorted by ``id``; the official ids run 0..C-1, so
    the label equals the category id. Each image must have exactly one
    annotation; the unlabelled test files are not supported.

    Args:
        data_root: The iNaturalist root folder.
        ann_file: The JSON file, relative to ``data_root`` unless absolute.
        data_prefix: Prefix of ``file_name``, relative to ``data_root``.
        **kwargs: Other arguments of MMPretrain's ``BaseDataset``.

    Example:
        >>> dataset = dict(type='mmghm.INaturalist', data_root='data/inat2017',
        ...                ann_file='train2017.json', pipeline=train_pipeline)
    """

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = '',
                 data_prefix: str = '',
                 metainfo: Optional[dict] = None,
                 **kwargs):
        if not ann_file:
            raise ValueError('INaturalist needs ann_file, e.g. '
                             "'train2017.json' or 'val2018.json'.")
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            metainfo=metainfo,
            **kwargs)

    def _error(self, problem: str) -> ValueError:
        return ValueError(f'INaturalist: {self.ann_file}: {problem}')

    def _records(self, ann: dict, key: str, fields: tuple) -> list:
        records = ann.get(key)
        if not isinstance(records, list):
            raise self._error(
                f'no {key!r} list (found keys {sorted(ann)}); expected the '
                'official COCO-style file with images, annotations and '
                'categories. Unlabelled test files are not supported.')
        for i, rec in enumerate(records):
            if not isinstance(rec, dict) or any(f not in rec for f in fields):
                raise self._error(
                    f'{key}[{i}] = {rec!r} lacks one of the fields {fields}.')
        return records

    def load_data_list(self) -> List[dict]:
        if not exists(self.ann_file):
            raise FileNotFoundError(
                f'INaturalist: annotation file {self.ann_file} not found.')
        try:
            ann = load(self.ann_file, file_format='json')
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            raise self._error(f'not valid JSON ({e}).') from e
        if not isinstance(ann, dict):
            raise self._error('the top level must be a JSON object.')
        images = self._records(ann, 'images', ('id', 'file_name'))
        annotations = self._records(ann, 'annotations',
                                    ('image_id', 'category_id'))
        categories = self._records(ann, 'categories', ('id', 'name'))

        categories = sorted(categories, key=lambda c: c['id'])
        label_of = {c['id']: i for i, c in enumerate(categories)}
        if len(label_of) != len(categories):
            raise self._error('categories repeat an id.')
        self._metainfo.setdefault('classes',
                                  tuple(c['name'] for c in categories))

        label_of_image = {}
        for i, a in enumerate(annotations):
            if a['category_id'] not in label_of:
                raise self._error(
                    f'annotations[{i}] has category_id {a["category_id"]!r}, '
                    'which is not among the categories.')
            if a['image_id'] in label_of_image:
                raise self._error(
                    f'image {a["image_id"]!r} has more than one annotation; '
                    'iNaturalist has one label per image.')
            label_of_image[a['image_id']] = label_of[a['category_id']]

        image_ids = {img['id'] for img in images}
        orphans = set(label_of_image) - image_ids
        if orphans:
            raise self._error(f'annotations refer to image ids '
                              f'{sorted(orphans)[:5]} not among the images.')
        backend = get_file_backend(self.img_prefix, enable_singleton=True)
        data_list = []
        for img in images:
            if img['id'] not in label_of_image:
                raise self._error(
                    f'image {img["id"]!r} ({img["file_name"]}) has no '
                    'annotation.')
            file_name = check_relative_path(
                img['file_name'],
                f'INaturalist: {self.ann_file}: image {img["id"]!r}')
            data_list.append(
                dict(img_path=backend.join_path(self.img_prefix, file_name),
                     gt_label=label_of_image[img['id']]))
        if not data_list:
            raise self._error('holds no image.')
        return data_list

    def extra_repr(self) -> List[str]:
        return [f'Annotation file: \t{self.ann_file}',
                f'Prefix of images: \t{self.img_prefix}']
