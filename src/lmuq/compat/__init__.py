"""The peers' front doors on lmuq's core: port a notebook by changing only its imports.

* :mod:`lmuq.compat.uqlm` — UQLM's ``BlackBoxUQ``;
* :mod:`lmuq.compat.uqlm_longform` — UQLM's ``LongTextUQ``, ``LongTextGraph`` and
  ``LongTextQA``;
* :mod:`lmuq.compat.luq` — LUQ's ``HFLLMWrapper``, ``generate_n_samples_and_answer`` and
  estimators.
"""
