"""The 19 Cityscapes evaluation classes shared by every dataset here, their palette and Synthia's subset."""

CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
           'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
           'motorcycle', 'bicycle')

PALETTE = ((128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
           (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
           (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32))

# Synthia has few or no pixels of terrain (9), truck (14) and train (16): its results are also reported on the
# other 16.
SYNTHIA_16 = tuple(i for i in range(19) if i not in (9, 14, 16))

IGNORE_INDEX = 255
