"""The peers' front doors on lmuq's core: port a notebook by changing only its imports.

* :mod:`lmuq.compat.uqlm` — UQLM's ``BlackBoxUQ``;
* :mod:`lmuq.compat.uqlm_longform` — UQLM's ``LongTextUQ``, ``LongTextGraph`` and
  ``LongTextQA``;
* :mod:`lmuq.compat.uqlm_semantic` — UQLM's ``SemanticEntropy`` and ``SemanticDensity``;
* :mod:`lmuq.compat.uqlm_panel` — UQLM's ``LLMPanel``;
* :mod:`lmuq.compat.uqlm_codegen` — UQLM's ``CodeGenUQ`` (code run in a sandbox);
* :mod:`lmuq.compat.luq` — LUQ's ``HFLLMWrapper``, ``generate_n_samples_and_answer`` and
  estimators.
"""
