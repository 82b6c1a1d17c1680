"""FActScore-style records through ``datasets``, read from a small local file."""

from __future__ import annotations

import json

import pytest

from lmuq.datasets.claim_sets import claim_texts, load_factscore

RECORDS = [
    {
        "input": "Question: Tell me a bio of Ann Lee.",
        "output": "Ann Lee was a painter. She lived in Oslo.",
        "topic": "Ann Lee",
        "annotations": [
            {
                "text": "Ann Lee was a painter.",
                "is-relevant": True,
                "human-atomic-facts": [{"text": "Ann Lee was a painter.", "label": "S"}],
                "model-atomic-facts": [{"text": "Ann Lee painted.", "label": "S"}],
            },
            {
                "text": "She lived in Oslo.",
                "is-relevant": True,
                "human-atomic-facts": [
                    {"text": "Ann Lee lived in Oslo.", "label": "NS"},
                    {"text": "Oslo is a city.", "label": "IR"},
                ],
                "model-atomic-facts": [],
            },
        ],
    },
    {
        "input": "Question: Tell me a bio of Bo.",
        "output": "I do not know.",
        "topic": "Bo",
        "annotations": None,
    },
]


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_factscore_records_become_labelled_claims(tmp_path):
    src = _write(tmp_path / "ChatGPT.jsonl", RECORDS)
    examples = load_factscore(src)
    assert [e.prompt for e in examples] == ["Tell me a bio of Ann Lee.", "Tell me a bio of Bo."]
    first = examples[0]
    assert [(c.text, c.label) for c in first.claims] == [
        ("Ann Lee was a painter.", True),
        ("Ann Lee lived in Oslo.", False),
        ("Oslo is a city.", None),
    ]
    assert first.claims[1].sentence == "She lived in Oslo."
    assert examples[1].claims == ()  # abstained: no annotations
    assert claim_texts(load_factscore(src, n=1, annotations="model")) == [["Ann Lee painted."]]


def test_bad_labels_and_fields_are_named(tmp_path):
    bad = dict(
        RECORDS[0],
        annotations=[{"text": "x", "human-atomic-facts": [{"text": "x", "label": "MAYBE"}]}],
    )
    with pytest.raises(ValueError, match="label 'MAYBE'"):
        load_factscore(_write(tmp_path / "a.jsonl", [bad]))
    with pytest.raises(ValueError, match="'output' must be a string"):
        load_factscore(_write(tmp_path / "b.jsonl", [{"input": "q", "output": 3}]))
