"""Words that say nothing about the situation, in the languages staff type (en, it, fr, ru).

Dropped before matching so that "the" or "my" never match every playbook that contains them. Written here
as people spell them; the matcher folds them exactly as it folds what is typed (case, accents, ё → е), so
"è", "où" and "её" need no second, accent-free spelling.

One set serves every language, so a word goes in only if it is filler in its language *and* not a content
word in another one: French "car" (because) would hide English "car", so it stays out. Negations ("no",
"non", "pas", "не") are filler as in the English list; "without" ("senza", "sans", "без") is not, since
"no receipt" and "senza scontrino" are exactly what triggers say. "ça" stays out too: the slugs made from
unmatched phrases keep it ("ça ne marche pas" → ca-marche).
"""

from __future__ import annotations


def _words(block: str) -> frozenset[str]:
    """A readable block of words per language, rather than a long list literal."""
    return frozenset(block.split())


STOPWORDS_BY_LANGUAGE: dict[str, frozenset[str]] = {
    "en": _words("""
a an the i me my we our you your he she it its they them their this that these those is are was were be been
am do does did to of in on at by for from with and or but not no so as if than then there here has have had
will would can could should may might just very too also about into out up down over again
"""),
    # Elided forms (l', dell', un', quest') are split at the apostrophe; their stems are listed here.
    "it": _words("""
il lo la i gli le un una uno di da del della dei delle al alla in con su per tra fra e o ma non che chi
mi ti si ci vi ne è sono ha ho hanno mio mia suo sua
l d c m t s v n dell dall nell sull all coll quest quell
dello degli dal dalla dai dagli nel nella nei negli sul sulla sui col allo alle agli ai
lui lei loro mio miei mie tuo tua suoi sue nostro nostra vostro vostra anche perché
"""),
    # Elided forms (l', d', qu', j', n', c', s', jusqu', lorsqu') likewise.
    "fr": _words("""
le la les un une des du de d l au aux et ou mais ne pas que qui je tu il elle nous vous ils elles
mon ma mes son sa ses en dans sur pour par avec est sont a ont ce cet cette ces y
j n c s m t qu jusqu lorsqu puisqu quoiqu
à où me te se lui leur leurs notre votre nos vos ton ta tes cela ceci été être très aussi donc alors
"""),
    "ru": _words("""
и в во не что он она оно они я ты мы вы на с со как а то все так его её их но да к у же вот от по из за
для о об это этот эта эти был была были есть мне меня мой моя
ли бы уже ещё ну ваш ваша наш наша свой своя тот та те там тут здесь когда где если или ни до при про
ему ей им нас нам вас вам него неё ней них себя будет быть очень тоже также чтобы
"""),
}

STOPWORDS: frozenset[str] = frozenset().union(*STOPWORDS_BY_LANGUAGE.values())
