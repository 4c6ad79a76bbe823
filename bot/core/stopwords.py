"""Words that say nothing about the situation, in the languages staff type (en, it, fr, ru).

Dropped before matching so that "the" or "my" never match every playbook that contains them.
"""

STOPWORDS = frozenset("""
a an the i me my we our you your he she it its they them their this that these those is are was were be been
am do does did to of in on at by for from with and or but not no so as if than then there here has have had
will would can could should may might just very too also about into out up down over again
il lo la i gli le un una uno di da del della dei delle al alla in con su per tra fra e o ma non che chi
mi ti si ci vi ne è sono ha ho hanno mio mia suo sua
le la les un une des du de d l au aux et ou mais ne pas que qui je tu il elle nous vous ils elles
mon ma mes son sa ses en dans sur pour par avec est sont a ont ce cet cette ces y
и в во не что он она оно они я ты мы вы на с со как а то все так его её их но да к у же вот от по из за
для о об это этот эта эти был была были есть мне меня мой моя
""".split())  # noqa: SIM905 (a readable block per language beats a long list literal)
