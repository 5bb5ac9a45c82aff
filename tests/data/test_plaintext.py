"""Untagged text -> Brown-style tokens and sentences, split conservatively."""
import pytest

from bertgen.data.corpora import brown, plaintext

from bertgen.data.fusion import tagger


@pytest.mark.parametrize("text, tokens", [
    ("Mr. Smith didn't pay $1,000.50 for the U.S. flag.",
     ["Mr.", "Smith", "didn't", "pay", "$", "1,000.50", "for", "the", "U.S.", "flag", "."]),
    ("The Lord\u2019s house\u2014so well-known\u2014stood.",
     ["The", "Lord's", "house", "--", "so", "well-known", "--", "stood", "."]),
    ('He said, "Go home." _She_ went.', ["He", "said", ",", "``", "Go", "home", ".", "''", "She", "went", "."]),
])
def test_tokenize_like_brown(text, tokens):
    assert plaintext.tokenize(text) == tokens


def test_sentences_split_only_before_a_capital():
    paragraph = ('Mr. Smith came at 5 p.m. and left. "Why?" she asked. It was late, etc. and dark! '
                 'He slept. -- J. Cox.')
    assert [" ".join(s) for s in plaintext.sentences(paragraph)] == [
        "Mr. Smith came at 5 p.m. and left .",  # no split after the abbreviations
        "`` Why ? '' she asked .",  # lowercase after the quotation: not split
        "It was late , etc. and dark !",
        "He slept .",
        "-- J. Cox .",  # a dash after the end starts an attribution
    ]


def test_tagged_documents_feed_the_rules():
    model = tagger.Tagger.train([s for d in brown.read_corpus(brown.SAMPLE_DIR) for s in d.sentences],
                                iterations=2, progress=False)
    doc = plaintext.tagged("Gen.1", "web", ["The man was tired. He slept well."], model)
    assert (doc.id, doc.genre) == ("Gen.1", "web")
    assert [brown.text(s) for s in doc.sentences] == ["The man was tired.", "He slept well."]
    assert doc.sentences[1][0] == ("He", "pps")
