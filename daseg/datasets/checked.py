"""Sample listing with checks shared by every dataset here.

mmseg's `BaseSegDataset.load_data_list` accepts a missing folder (it lists nothing) and an image without its
label (the loader fails later, inside a data-loader worker). Here both stop at load time with a `UserError`
that names the path and the expected layout.
"""
import os
import os.path as osp

from ..errors import UserError


def list_stems(folder, suffix):
    """List the files under a folder whose names end in a suffix.

    Args:
        folder (str): Folder searched recursively; symbolic links are followed, since datasets are often
            linked into `data/`.
        suffix (str): File name ending, e.g. '_leftImg8bit.png'.

    Returns:
        list[str]: Sorted paths relative to `folder`, without the suffix.
    """
    stems = []
    for dirpath, _, names in os.walk(folder, followlinks=True):
        rel = osp.relpath(dirpath, folder)
        stems += [osp.normpath(osp.join(rel, n[:-len(suffix)])) for n in names if n.endswith(suffix)]
    return sorted(stems)


class CheckedDatasetMixin:
    """Replaces `BaseSegDataset.load_data_list` with a listing that checks the layout.

    Put it before the mmseg dataset class in the bases. Samples are `<stem><img_suffix>` under each image
    folder, paired with `<stem><seg_map_suffix>` under the label folder; the stems come from the `ann_file`
    (one per line, relative to the image folder, as in mmseg) or else from a recursive listing.

    Raises `UserError` when the data root, the `ann_file`, an image folder or a label folder does not exist,
    when no image is found, or when an image or its label file is missing. Without `seg_map_path` in
    `data_prefix` the samples have no labels (e.g. unlabelled target training images).
    """

    # The expected layout under data_root, quoted in error messages; subclasses describe theirs.
    LAYOUT = 'the image and label folders given in data_prefix'

    def folder_pairs(self):
        """Return the (image folder, label folder or None) pairs to list; `data_prefix` gives one pair."""
        return [(self.data_prefix.get('img_path', ''), self.data_prefix.get('seg_map_path'))]

    def load_data_list(self):
        """List the samples, checking the layout.

        Returns:
            list[dict]: One dict per image with `img_path`, `seg_map_path` (when labelled), `label_map`,
                `reduce_zero_label` and `seg_fields`, as mmseg's pipelines expect.
        """
        name = type(self).__name__
        if self.data_root is not None and not osp.isdir(self.data_root):
            raise UserError(f"{name}: data_root '{self.data_root}' does not exist; expected a folder with "
                            f'{self.LAYOUT}')
        listed = self._read_ann_file() if self.ann_file else None
        data_list = []
        pairs = self.folder_pairs()
        for img_dir, ann_dir in pairs:
            if not osp.isdir(img_dir):
                raise UserError(f"{name}: image folder '{img_dir}' does not exist; expected {self.LAYOUT}")
            if ann_dir is not None and not osp.isdir(ann_dir):
                raise UserError(f"{name}: label folder '{ann_dir}' does not exist; expected {self.LAYOUT}")
            stems = listed if listed is not None else list_stems(img_dir, self.img_suffix)
            data_list += [self._sample(img_dir, ann_dir, stem) for stem in stems]
        if not data_list and self.ann_file:
            raise UserError(f"{name}: ann_file '{self.ann_file}' lists no images")
        if not data_list:
            folders = ', '.join(f"'{img_dir}'" for img_dir, _ in pairs)
            raise UserError(f"{name}: no images ending in '{self.img_suffix}' under {folders}; expected {self.LAYOUT}")
        return data_list

    def _read_ann_file(self):
        if not osp.isfile(self.ann_file):
            raise UserError(f"{type(self).__name__}: ann_file '{self.ann_file}' does not exist; expected a text "
                            'file with one image stem per line')
        with open(self.ann_file, encoding='utf-8') as f:
            return [line.strip() for line in f if line.strip()]

    def _sample(self, img_dir, ann_dir, stem):
        img_path = osp.join(img_dir, stem + self.img_suffix)
        if not osp.isfile(img_path):
            raise UserError(f"{type(self).__name__}: image '{img_path}' listed in '{self.ann_file}' does not exist")
        info = dict(img_path=img_path, label_map=self.label_map, reduce_zero_label=self.reduce_zero_label,
                    seg_fields=[])
        if ann_dir is not None:
            seg_map_path = osp.join(ann_dir, stem + self.seg_map_suffix)
            if not osp.isfile(seg_map_path):
                raise UserError(f"{type(self).__name__}: label missing for image '{img_path}': expected "
                                f"'{seg_map_path}'")
            info['seg_map_path'] = seg_map_path
        return info
