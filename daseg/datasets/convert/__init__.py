"""Raw dataset -> `*_labelTrainIds.png` and rare-class-sampling statistics; the tools/convert_datasets CLIs."""
