"""An entry's own name in a message: capitalised words after the category word or the verb."""

from __future__ import annotations

import re

from bot.nlu.lexicon import word_set
from bot.nlu.tokens import Reading

_NAME_STOP = word_set(
    """
    a au aux en sur dans vers de du des d pour avec est il elle qui que c je j on et ou mais
    super top genial excellent tres vraiment trop in at on is who which and but for with
    very really great a an svp stp please pls plz merci car parce thx
    within around near nearby close about from less under max maximum rayon moins autour
    pres proche environ
    """
)
_NAME_LEAD = frozenset(
    {"le", "la", "les", "l", "mon", "ma", "mes", "un", "une", "the", "my", "a", "an", "notre"}
)
_NAME_PREP = frozenset({"du", "de", "des", "d"})
#: "chez moi" is home, not a place called "Chez Moi"
_HOME_WORDS = frozenset({"moi", "nous", "toi", "vous", "soi", "lui", "eux", "elle", "me"})
_CLAUSE_BREAK = re.compile(r"[,.;:!?()\"«»\n]")


def entry_name(reading: Reading, place: tuple[int, int] | None, verb_end: int | None) -> str | None:
    """The entry's own name: capitalised words after the category word (or the verb)."""
    tokens = reading.tokens
    starts: list[tuple[int, str | None]] = []
    for _cat, _, _i, j in reading.cat_mentions:
        starts.append((j, reading.cleaned[tokens[_i].start : tokens[j - 1].end]))
    if verb_end is not None:
        starts.append((verb_end, None))
    cat_tokens = {k for _, _, i, j in reading.cat_mentions for k in range(i, j)}
    for start, cat_word in starts:
        i = start
        # skip one punctuation gap and lower-case articles: "mon véto, le Dr Hoarau"
        lead = _NAME_LEAD if cat_word else _NAME_LEAD | _NAME_PREP | {"of", "to", "at", "in"}
        while (
            i < len(tokens)
            and tokens[i].text[0].islower()
            and (place is None or not place[0] <= i + 1 < place[1])  # never into the place
            and (
                (tokens[i].fold in lead and tokens[i].text != "à")
                or (
                    tokens[i].fold in {"au", "aux", "a", "at", "in", "to", "for"}
                    and i + 1 < len(tokens)
                    and tokens[i + 1].text[:1].isupper()
                )
            )
        ):
            i += 1
        if i >= len(tokens):
            continue
        prep = tokens[i].fold in _NAME_PREP and tokens[i].text[0].islower()
        if prep and place is not None and place[0] in (i + 1, i + 2):
            continue  # "troupe de théâtre du Port": the place, not a name
        collected: list[int] = []
        k = i
        while k < len(tokens) and len(collected) < 6:
            if k in cat_tokens and collected:
                break
            if place is not None and k == place[0] and collected:
                break
            if collected:
                gap = reading.cleaned[tokens[k - 1].end : tokens[k].start]
                if _CLAUSE_BREAK.search(gap):
                    break
            word = tokens[k]
            inner_prep = (
                collected
                and word.fold in _NAME_PREP
                and k + 1 < len(tokens)
                and tokens[k + 1].text[:1].isupper()
                and (place is None or place[0] != k + 1)
            )
            if (
                word.fold in _NAME_STOP
                and word.text[0].islower()
                and not (prep and k == i)
                and not inner_prep
            ):
                break
            if word.fold in _NAME_STOP and word.fold in {"a", "au", "in", "at", "on", "sur"}:
                break
            collected.append(k)
            k += 1
        if not collected:
            continue
        first, last = collected[0], collected[-1]
        has_capital = any(tokens[c].text[0].isupper() for c in collected if tokens[c].fold not in _NAME_PREP)
        chez = tokens[first].fold in {"chez", "dr", "docteur", "doc"} and not (
            first + 1 < len(tokens) and tokens[first + 1].fold in _HOME_WORDS
        )
        if not (has_capital or chez):
            continue
        if all(tokens[c].fold in _NAME_PREP for c in collected):
            continue
        text = reading.cleaned[tokens[first].start : tokens[last].end].strip()
        if prep:
            if not cat_word:
                continue
            text = f"{cat_word[0].upper()}{cat_word[1:]} {text}"
        return text
    return None


#: English verbs and words that lead into a name placed before its category word
_ENGLISH_LEADS = frozenset(
    {"recommend", "belong", "member", "join", "joined", "love", "like", "try", "visit", "see",
     "go", "any", "find", "need", "want", "looking", "search", "i", "we", "you", "there",
     "some", "is", "are", "where", "which", "what", "our", "your", "his", "her"}
)

#: words after a category word in a question that describe it rather than name it
#: ("une pharmacie ouverte le dimanche", "un garagiste pas cher", "a cheap plumber")
_DESCRIPTIVE = word_set(
    """
    ouvert ouverte ouverts ouvertes ferme fermee maintenant aujourd hui demain ce soir
    dimanche lundi mardi mercredi jeudi vendredi samedi garde urgence urgent urgente nuit
    pas cher chere chers pres proche proches loin bon bonne bons bonnes meilleur meilleure
    sympa serieux serieuse honnete fiable agree agreee agreees prive privee public publique
    municipal municipale collective parental parentale pour enfant enfants ado ados bebe
    bebes adulte adultes debutant debutants qui que quoi ou quel quelle quels quelles
    svp stp merci moi nous chez ici la bas coin quartier secteur autour environ
    numero telephone tel tél adresse horaires horaire heure heures site web mail email
    open now today tonight tomorrow cheap good best nice near nearby close around here
    for kids children baby adults phone number address hours opening website pls plz
    please thx svp stp
    nearest closest cheapest cheap best better good great nice new old local big small little
    reliable honest friendly late night emergency another other same
    group groupe groups groupes troupe troupes team teams equipe club clubs association
    associations asso collectif company compagnie
    """
)


def search_name(reading: Reading, place: tuple[int, int] | None, *, english: bool = False) -> str | None:
    """The words naming one entry in a search ("pharmacie calumet", "la pharmacie Calumet
    à Saint-André"): the capitalised name after the category word, else the plain words
    right after it that describe nothing ("ouverte", "pas cher" describe). None when the
    category word stands alone."""
    named = entry_name(reading, place, None)
    if named:
        return named
    tokens = reading.tokens
    for _cat, _score, _i, j in reading.cat_mentions:
        collected: list[int] = []
        k = j
        while k < len(tokens) and len(collected) < 4:
            if place is not None and place[0] <= k < place[1]:
                break
            gap = reading.cleaned[tokens[k - 1].end : tokens[k].start]
            if _CLAUSE_BREAK.search(gap):
                break
            word = tokens[k]
            if word.fold in _NAME_STOP or word.fold in _DESCRIPTIVE or word.fold in _NAME_LEAD:
                break
            if any(i <= k < jj for _c, _s, i, jj in reading.cat_mentions) or word.text.isdigit():
                break
            collected.append(k)
            k += 1
        if collected and any(len(tokens[c].fold) >= 3 for c in collected):
            return reading.cleaned[tokens[collected[0]].start : tokens[collected[-1]].end]
        # English puts the name first: "the calumet pharmacy", "songe grocery"
        before: list[int] = []
        k = _i - 1
        while k >= 0 and len(before) < 3:
            word = tokens[k]
            gap = reading.cleaned[tokens[k].end : tokens[k + 1].start]
            if _CLAUSE_BREAK.search(gap) or (place is not None and place[0] <= k < place[1]):
                break
            if word.fold in _NAME_STOP or word.fold in _DESCRIPTIVE or word.fold in _NAME_LEAD:
                break
            if word.fold in _ENGLISH_LEADS or word.text.isdigit():
                break
            before.insert(0, k)
            k -= 1
        if before and english and any(len(tokens[c].fold) >= 3 for c in before):
            return reading.cleaned[tokens[before[0]].start : tokens[before[-1]].end]
    return None
