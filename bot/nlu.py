"""French/English understanding: intent and slots from one chat message, offline.

``parse(text, lang=..., home=...)`` is pure (no I/O beyond the in-memory taxonomy and
gazetteer, loaded once; ``warm_up()`` loads them ahead) and fast: typically 0.3 ms, under
2 ms for nearly every message; a misspelt commune costs a few ms more.

How a message is read
---------------------
1. Tokens: words of the cleaned text (control and zero-width characters gone), each with
   its folded form and its position in the original, so names keep their spelling.
2. Short answers ("oui c'est ça", "merci", "annuler", "bonjour", "la suite") are
   recognised from the whole message or its first word, when nothing is searched for.
3. Category: the taxonomy's mentions, exact ones first. A typo-tolerant mention never
   takes the words of a commune name ("Sainte-Marie" is no misspelt "mairie"). When
   several categories are named, the longest mention wins, then a specific category over
   a generic one, then the most named, then the first.
4. Commune: every word sequence that is exactly a commune name (article optional,
   "st"/"ste"/SMS "sen", "au Port" = "le Port"), or a quartier of La Réunion
   ("Saint-Gilles-les-Bains" is in Saint-Paul). A name that is also an ordinary word ("Y",
   "Eu", "Port", "Pas", "Nice") counts only after a place word ("à", "au", "in", "near",
   "j'habite"), written with a capital, next to the category word, at the end after its
   article, or as the whole message; category words and département names never count.
   Postcodes narrow or stand alone; a département named anywhere ("dans le 974",
   "Saint-Louis (68)", "dans la Somme") narrows same-name communes, which are then ordered
   by distance from ``home`` when it is near one of them, else by population, and all
   returned as ``commune_candidates``. With no exact name, a capitalised or "j'habite"
   phrase gets a typo-tolerant lookup, home département and towns first.
5. Radius ("à moins de 5 km", "within 3 miles", "500 m"), near me ("près de chez moi",
   "nearby"; "le plus proche" or a bare radius when no commune is named).
6. Intent from phrase patterns in both languages, from the most specific (asking for a
   recommendation, join, announce a project, recommend, add one's own place, register)
   to the most general (search).
7. Name (recommend, join, announce): the capitalised words after the category word or the
   verb, up to the place or the end of the clause ("la troupe Les Zarlor à Saint-Denis");
   a name that starts with "du"/"de" keeps its category word ("Pharmacie du Centre").
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from rapidfuzz import fuzz, process

from directory.categories import Category, Taxonomy, get_taxonomy
from directory.gazetteer import Commune, Gazetteer, get_gazetteer
from directory.gazetteer_names import (
    DEPARTEMENTS,
    arrondissement_aliases,
    fold_name,
    keys_of_folded,
)
from directory.text import clean, fold

MAX_CHARS = 1000  # nobody asks for a crèche in more than this; the rest is ignored
MAX_TOKENS = 80
MILE_KM = 1.609344

INTENTS: tuple[str, ...] = (
    "search", "recommend", "join", "announce_project", "register", "help", "greeting",
    "thanks", "cancel", "yes", "no", "more", "me", "settings", "unknown",
)  # fmt: skip


@dataclass(frozen=True)
class Parse:
    """What one message asks for. ``commune`` is only what the text names (never home)."""

    intent: str
    category: str | None = None
    commune: str | None = None
    commune_candidates: tuple[str, ...] = ()
    near_me: bool = False
    radius_km: float | None = None
    name: str | None = None
    lang: str = "fr"
    extras: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The ``communebot parse --json`` object: the contract keys first, then extras."""
        return {
            "intent": self.intent,
            "category": self.category,
            "commune": self.commune,
            "near_me": self.near_me,
            "radius_km": self.radius_km,
            "name": self.name,
            "commune_candidates": list(self.commune_candidates),
            "lang": self.lang,
            **self.extras,
        }


# --- vocabulary -----------------------------------------------------------------------------
# fmt: off


def _words(text: str) -> frozenset[str]:
    """A word set written as one block of text (easier to read and extend)."""
    return frozenset(text.split())



_ARTICLES = frozenset({"le", "la", "les", "l"})
# Words after which a commune name is expected. "o" is SMS for "au", "a" for "à".
_PLACE_STRONG = frozenset(
    {"a", "au", "aux", "en", "sur", "vers", "dans", "ds", "o", "pres", "habite", "jhabite",
     "vis", "reste", "in", "at", "near", "around", "from", "to", "live", "ville", "commune"}
)  # fmt: skip
# Weaker: "de" follows many nouns ("de garde", "de chez moi"): only for unmistakable names.
_PLACE_WEAK = frozenset({"de", "du", "des", "d", "pour", "of", "depuis", "cote", "c", "est", "is"})
_PLACE_WORDS = _PLACE_STRONG | _PLACE_WEAK
# After a preposition these make idioms ("à côté", "au coin", "in the morning"), not places.
_IDIOMS = _words(
    """
    cote coin proximite plus moins pied domicile quartier centre nord sud est ouest bout fond
    droite gauche maison travail bureau partir peu cause part cet ce cette mon ma mes tout
    toute tous vie midi soir matin heure heures demain the me home night day work all least
    most some any my your this that there here once nous vous lui eux elle elles moi toi
    """
)
# A place word that carries the article of the name after it: "au Port" is "le Port".
_ARTICLE_OF = {"au": "le", "du": "le", "o": "le", "aux": "les", "des": "les"}
# Places people name instead of their commune: quartiers and villages of La Réunion, the
# island the project was born on. A name that is also a commune elsewhere ("Saint-Gilles",
# a commune of the Gard) counts as the locality only for a user whose home is on the
# island (the département in the second field); the others count everywhere.
_LOCALITIES: dict[str, tuple[str, str | None]] = {
    "saint gilles les bains": ("97415", None), "saint gilles les hauts": ("97415", None),
    "saint gilles": ("97415", "974"), "l hermitage": ("97415", None),
    "hermitage les bains": ("97415", None), "boucan canot": ("97415", None),
    "la saline les bains": ("97415", None), "plateau caillou": ("97415", None),
    "le guillaume": ("97415", None), "la plaine saint paul": ("97415", None),
    "sainte clotilde": ("97411", None), "le chaudron": ("97411", None),
    "le moufia": ("97411", None), "bellepierre": ("97411", None),
    "hell bourg": ("97421", None), "grand ilet": ("97421", None),
    "la riviere saint louis": ("97414", None), "riviere saint louis": ("97414", None),
    "les makes": ("97414", None), "le gol": ("97414", None),
    "terre sainte": ("97416", None), "ravine des cabris": ("97416", None),
    "mont vert": ("97416", None), "pierrefonds": ("97416", None),
    "grands bois": ("97416", None),
    "la plaine des cafres": ("97422", None), "plaine des cafres": ("97422", None),
    "trois mares": ("97422", None), "bourg murat": ("97422", None),
    "piton saint leu": ("97413", None), "la chaloupe saint leu": ("97413", None),
    "dos d ane": ("97408", None), "riviere des galets": ("97407", None),
    "manapany": ("97412", None), "vincendo": ("97412", None),
    "champ borne": ("97409", None), "etang sale les bains": ("97404", None),
    "gillot": ("97418", None),
}
_SMS_EXPANSIONS = {"sen": "saint", "sin": "saint", "snt": "saint"}

# Ordinary words that are also commune names somewhere ("Y", "Eu", "Port", "Ville", "Pas",
# "Bains", "Plus"...): they only count as a commune in a place context.
_COMMON = _words(
    """
    a au aux avec bain bains bas beau belle bien bon bonne bois bourg bout ca car ce cela
    centre ces champ champs chez coin cote cour dame de des deux du eau eaux elle en est et
    eu faire fin fond font fort gare grand grande haut haute il jardin je la lac le les
    lieu loin lu ma mais marche mer mes moi mon mont mur neuf neuve nord nous o on ou paix
    par pas petit petite peu plage plaine plus pont port porte pour pres quai rue saint
    sainte sans ses si son sous sud sur ta tes ton tour tu un une val vert vie vieux vieille
    ville vous y yes no on in at the bay bar mont oui non sept trois nice orange sens
    vienne grasse cannes tours this baby vers quartier garde saintes lot var cher ain
    """
)

_FR_MARKERS = _words(
    """
    je j tu il elle on nous vous le la les un une des du de au aux et est pour dans sur avec
    pas moi chez pres cherche recherche bonjour merci oui non svp stp ya g quel quelle quels
    qui ma mon mes c qu besoin salut aide habite annuler encore suite ou trouver quoi coin
    fais partie suis membre lance projet recommande conseille cote loin proche bonsoir
    coucou slt bjr mci ouais nan dispo urgent ouvert ouverte quelqu connait voudrais veux
    cherch moins rayon autour jcherche jhabite jrecommande ici parametres langue profil
    """
)
_EN_MARKERS = _words(
    """
    i you the an is are in near me my for with where what any looking need find please
    hello hi hey thanks thank yes help recommend live from of to there can do does how this
    good open nearby around within miles member join settings more cancel never mind nope
    yep show it we our new starting launching just moved town closest nearest add announce
    project change language recommendation results
    someone anyone place want would like belong volunteer part opening hours kids son baby
    thx no next ok bot sure
    """
)

# Whole-message answers (after dropping politeness around them).
_FILLERS = _words("svp stp please pls plz merci a plus bye ciao thx alors bon euh hmm lol mdr haha")
_WHOLE: dict[str, frozenset[str]] = {
    "cancel": frozenset(
        ["annuler", "annule", "annulez", "laisse tomber", "laisser tomber", "stop", "arrete",
         "arreter", "abandonner", "abandon", "cancel", "never mind", "nevermind",
         "forget it", "quit", "quitter", "sortir"]
    ),
    "no": frozenset(
        ["non", "nan", "nope", "no", "non merci", "non c est bon", "non ca va", "ca ira",
         "no that s fine", "no it s fine", "non ca ira", "no thanks", "no thank you", "pas maintenant",
         "not now", "jamais", "nah", "non pas du tout"]
    ),
    "yes": frozenset(
        ["oui", "ouais", "ouai", "ouii", "wi", "ok", "okay", "oki", "d accord", "dac",
         "daccord", "ca marche", "parfait", "volontiers", "bien sur", "carrement", "yes",
         "yep", "yeah", "yup", "sure", "of course", "yes please", "oui merci", "ok merci",
         "c est bon", "go", "vas y", "exact", "exactement", "tout a fait", "absolument",
         "correct", "that s right", "right", "oui oui"]
    ),
    "thanks": frozenset(
        ["merci", "mci", "mrc", "merci beaucoup", "merci bien", "merci bcp", "thx", "thanks",
         "thank you", "thank you so much", "thanks a lot", "ty", "cool merci", "super merci",
         "top merci", "many thanks", "merci infiniment"]
    ),
    "greeting": frozenset(
        ["bonjour", "bonsoir", "salut", "slt", "coucou", "bjr", "bsr", "yo", "hello", "hi",
         "hey", "hola", "good morning", "good evening", "good afternoon", "morning", "kikou",
         "cc", "wesh", "hi there", "hey there", "hello there", "salut a toi", "bonjour a tous",
         "allo", "start", "demarrer", "commencer"]
    ),
    "help": frozenset(
        ["aide", "aidez moi", "aide moi", "help", "help me", "comment ca marche",
         "comment ca fonctionne", "tu sers a quoi", "a quoi tu sers", "a quoi ca sert",
         "qu est ce que je peux faire", "qu est ce que je peux faire ici",
         "que peux tu faire", "tu fais quoi", "je comprends pas", "je comprend pas",
         "j comprends pas", "je ne comprends pas", "how does this work",
         "how does it work", "what can you do", "what do you do", "how to use", "menu",
         "commandes", "info", "infos", "what is this", "what is this bot", "who are you",
         "what are you", "c est quoi", "c est quoi ce bot", "qui es tu", "t es qui",
         "mode d emploi", "i don t understand", "instructions", "au secours", "sos",
         "je suis perdu", "je suis perdue", "perdu", "i m lost", "help me please"]
    ),
    "more": frozenset(
        ["encore", "la suite", "suite", "suivant", "suivants", "plus de resultats",
         "d autres resultats", "autres resultats", "voir plus", "encore plus", "more",
         "more results", "show me more", "show more", "next", "others", "see more",
         "d autres", "autres", "page suivante", "next page", "any more", "et d autres"]
    ),
    "me": frozenset(
        ["mes recommandations", "mon profil", "mes associations", "mes projets", "mes infos",
         "moi", "mon compte", "my recommendations", "my profile", "my associations",
         "my projects", "me", "my account", "mes assos", "mes groupes"]
    ),
    "settings": frozenset(
        ["parametres", "parametre", "reglages", "changer de langue", "changer la langue",
         "langue", "settings", "change language", "language", "preferences", "options",
         "configuration", "config", "change my language", "in english", "en francais",
         "english", "francais", "english please", "en francais svp"]
    ),
}

_RE_FLAGS = re.IGNORECASE


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", _RE_FLAGS)


_RECOMMEND_ASK = _rx(
    r"(?<!je )(?:tu|vous) (?:me |nous )?(?:recommande\w*|conseille\w*)",
    r"(?:recommande|conseille)(?:s|z)? (?:moi|nous)",
    r"(?:recommandez|conseillez) (?:moi|nous)",
    r"(?:can|could|would) you (?:recommend|suggest)",
    r"recommend me",
    r"what do you recommend",
    r"any recommendations?",
    r"des recommandations? (?:pour|de)",
    r"qui (?:peut|pourrait) (?:me )?(?:recommander|conseiller)",
    r"(?:un|une|des) (?:\w+ )?(?:a|à) (?:me )?(?:conseiller|recommander)",
)
_RECOMMEND = _rx(
    r"j? ?(?:e )?recommand\w*",
    r"recommand\w*",
    r"recommend\w*",
    r"je (?:te |vous |le |la |les )?conseille",
    r"jconseille",
    r"conseiller",
    r"vouch",
    r"allez chez",
    r"add a recommendation",
    r"ajouter une recommandation",
    r"mettre une recommandation",
)
_JOIN = _rx(
    r"fais partie",
    r"j ?ai (?:cree|fonde|monte) (?:un|une|l|le|la|mon|ma|notre)",
    r"i (?:run|manage|founded|started) (?:a|an|the|our|my)",
    r"je (?:gere|dirige|anime|preside)",
    r"je m occupe (?:de|du|d|des)",
    r"je suis (?:le |la |l )?(?:president|presidente|responsable|tresorier|tresoriere|secretaire)",
    r"i am (?:the |a )?(?:president|chair|chairman|treasurer|secretary|coach|founder) of",
    r"i m (?:the |a )?(?:president|chair|chairman|treasurer|secretary|coach|founder) of",
    r"fais parti",
    r"fait parti",
    r"faire partie",
    r"fait partie",
    r"suis membre",
    r"membre (?:de|du|des|d)",
    r"j appartiens",
    r"jappartiens",
    r"suis (?:benevole|adherent|adherente|inscrit|inscrite)",
    r"rejoindre",
    r"rejoins",
    r"j ai rejoint",
    r"suis dans (?:l|la|le|les|une|un|mon|ma) "
    r"(?:asso\w*|troupe|club|chorale|equipe|groupe|collectif|jardin|compagnie|orchestre)",
    r"je (?:joue|chante|danse) (?:au|dans|avec|a la|a l|en)",
    r"i m a member",
    r"i am a member",
    r"member of",
    r"i belong",
    r"i volunteer",
    r"volunteer at",
    r"i m part of",
    r"i am part of",
    r"join",
    r"joined",
    r"i sing in",
    r"i play (?:for|in|with)",
)
_PROJECT = _rx(
    r"projet",
    r"projets",
    r"project",
    r"projects",
    r"(?:cherch\w*|looking for|need|besoin)\s+(?:de\s+|des\s+|d\s+|some\s+)?"
    r"(?:benevoles|volunteers|bras|helpers|coups de main)",
)
_CREATE = _rx(
    r"je lance",
    r"on lance",
    r"nous lancons",
    r"lancer",
    r"je monte",
    r"on monte",
    r"nous montons",
    r"monter (?:un|une)",
    r"je cree",
    r"on cree",
    r"nous creons",
    r"creer (?:un|une)",
    r"je demarre",
    r"on demarre",
    r"demarrer (?:un|une)",
    r"fonder",
    r"je fonde",
    r"on fonde",
    r"starting",
    r"launching",
    r"launch",
    r"set up",
    r"setting up",
    r"start (?:a|an)",
    r"create (?:a|an)",
    r"creating",
    r"founding",
    r"annoncer",
    r"announce",
)
_REGISTER = _rx(
    r"j habite",
    r"jhabite",
    r"j habites",
    r"je vis (?:a|au|aux|en|sur|dans|l)",
    r"je suis (?:de|du|des|d)",
    r"je viens (?:de|d) (?:m )?emmenager",
    r"je viens d emmenager",
    r"emmenage",
    r"j ai demenage",
    r"ma commune",
    r"je reste (?:a|au|aux|en|sur)",
    r"je suis sur",
    r"m install\w*",
    r"me suis install\w*",
    r"je suis (?:nouveau|nouvelle|arrive|arrivee) (?:a|au|aux|sur|dans|en)",
    r"i m new (?:in|to)",
    r"i am new (?:in|to)",
    r"i (?:just )?settled in",
    r"je suis (?:a|au|aux)",
    r"moi c est",
    r"changer (?:ma|de) commune",
    r"i live",
    r"i just moved",
    r"i moved to",
    r"i m from",
    r"i am from",
    r"my town",
    r"my commune",
    r"my city",
    r"my village",
    r"i m based in",
)
_SEARCH_WORDS = _rx(
    r"cherche\w*",
    r"jcherche",
    r"recherche\w*",
    r"trouver",
    r"besoin",
    r"ou est",
    r"ou sont",
    r"ou trouver",
    r"il y a",
    r"y a",
    r"ya",
    r"quel\w*",
    r"qui connait",
    r"looking for",
    r"find",
    r"need",
    r"where",
    r"any",
    r"is there",
    r"are there",
    r"quoi de neuf",
    r"what s new",
    r"what s in",
)
_NEAR_ME = _rx(
    r"(?:pres|proche|autour|a cote|pas loin|pas trop loin|non loin) (?:de|d) ?(?:chez )?(?:moi|nous|ici)",
    r"chez moi",
    r"autour de moi",
    r"dans le coin",
    r"dans mon quartier",
    r"dans mon coin",
    r"dans ma zone",
    r"a proximite",
    r"pres d ici",
    r"near me",
    r"near here",
    r"close to me",
    r"close by",
    r"around me",
    r"around here",
    r"nearby",
    r"near by",
    r"to me",
    r"my area",
    r"my neighbourhood",
    r"my neighborhood",
)
_NEAR_GENERIC = _rx(
    r"pas loin",
    r"pas trop loin",
    r"(?:le|la|les) plus proches?",
    r"proche",
    r"around",
    r"nearest",
    r"closest",
    r"near",
)
_RADIUS = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(km|kms|kilometres?|kilometers?|kilometre|m|metres?|meters?|mi|miles?)\b",
    _RE_FLAGS,
)
_NAME_INTRO = frozenset({"appelle", "apelle", "name", "nom", "prenom", "called", "am", "suis"})
_UNITS = frozenset({"km", "kms", "m", "mi", "miles", "min", "minutes", "h", "ans", "euros", "e"})
_DEPT_NAME_WORDS = frozenset({"dans", "en", "in", "a", "departement", "dept", "dpt"})


# fmt: on


# --- tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tok:
    text: str  # as typed
    fold: str  # folded, one word
    start: int  # in the cleaned text
    end: int


_WORD = re.compile(r"\w+", re.UNICODE)


def _tokens(cleaned: str) -> list[_Tok]:
    """Words of the cleaned text; a word that folds to several (``œuvre``) stays one."""
    tokens: list[_Tok] = []
    for m in _WORD.finditer(cleaned):
        folded = fold(m.group()).replace(" ", "")
        if folded:
            tokens.append(_Tok(m.group(), folded, m.start(), m.end()))
            if len(tokens) >= MAX_TOKENS:
                break
    return tokens


def _plain(text: str) -> str:
    """Lower case without accents, punctuation kept (numbers like "1,5 km" survive)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# --- gazetteer helpers ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Places:
    """Commune name keys for fast "is this word sequence a commune?" checks."""

    compacts: frozenset[str]
    # (compact keys, INSEE codes) side by side, for rapidfuzz over a small pool
    near_keys: dict[str, tuple[list[str], list[str]]]  # by département
    popular: tuple[list[str], list[str]]  # towns over 10,000 people and overseas communes


@cache
def _places() -> _Places:
    """Built once from the gazetteer (about 0.2 s)."""
    gaz = get_gazetteer()
    compacts: set[str] = set()
    by_dept: dict[str, tuple[list[str], list[str]]] = {}
    popular: tuple[list[str], list[str]] = ([], [])
    rows: list[Commune] = [*gaz, *gaz.arrondissements()]
    for commune in rows:
        key = keys_of_folded(fold_name(commune.name)).compact
        compacts.add(key)
        if commune.kind == "arrondissement":  # "Lyon 3e", "paris 11"
            for alias in arrondissement_aliases(fold_name(commune.name)):
                compacts.add(keys_of_folded(alias).compact)
        keys, codes = by_dept.setdefault(commune.departement, ([], []))
        keys.append(key)
        codes.append(commune.insee)
        if commune.population >= 10000 or commune.zone != "metro":
            popular[0].append(key)
            popular[1].append(commune.insee)
    return _Places(frozenset(compacts), by_dept, popular)


def _compact(words: Sequence[str]) -> str:
    expanded = [_SMS_EXPANSIONS.get(w, w) for w in words]
    return keys_of_folded(" ".join(expanded)).compact


def _phrase(words: Sequence[str]) -> str:
    return " ".join(_SMS_EXPANSIONS.get(w, w) for w in words)


@dataclass(slots=True)
class _PlaceHit:
    start: int  # token indexes [start, end)
    end: int
    communes: list[Commune]
    context: int  # 2 after a strong place word ("à", "in"), 1 after a weak one ("de"), 0
    strong: bool  # unmistakable without context: several words, or one uncommon word
    adjacent: bool  # right next to a category word ("garagiste st paul")
    capital: bool  # written with a capital inside the sentence
    article: bool  # the name carries its article ("le port", "les avirons")


def _order_by_home(gaz: Gazetteer, communes: list[Commune], home: Commune | None) -> list[Commune]:
    """Same-name communes: nearest to home first when home is near one of them, else as given
    (most populated first)."""
    if home is None or home.point is None or len(communes) < 2:
        return communes
    dist = {c.insee: gaz.distance_km(home, c) for c in communes}
    known = [d for d in dist.values() if d is not None]
    if not known or min(known) > 300:
        return communes
    return sorted(communes, key=lambda c: _or_inf(dist[c.insee]))


def _or_inf(value: float | None) -> float:
    return math.inf if value is None else value


# --- the parser -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Reading:
    """Working state of one parse."""

    tokens: list[_Tok]
    folded: str  # " ".join(token folds)
    cleaned: str
    plain: str
    cat_mentions: list[tuple[Category, float, int, int]] = field(default_factory=list)


def _token_span(tokens: list[_Tok], start_char: int, end_char: int) -> tuple[int, int]:
    """Token indexes covering a character span of ``" ".join(folds)``."""
    pos = 0
    first = last = -1
    for i, tok in enumerate(tokens):
        tok_start, tok_end = pos, pos + len(tok.fold)
        if tok_end > start_char and tok_start < end_char:
            if first < 0:
                first = i
            last = i
        pos = tok_end + 1
    return first, last + 1


def _categories(
    reading: _Reading, tax: Taxonomy, blocked: set[int]
) -> list[tuple[Category, float, int, int]]:
    """All category mentions (exact and typo-tolerant) outside ``blocked`` tokens."""
    mentions: list[tuple[Category, float, int, int]] = []
    for cat, score, (s, e) in tax.find_all_in_text(reading.folded):
        i, j = _token_span(reading.tokens, s, e)
        if i < 0 or any(k in blocked for k in range(i, j)):
            continue
        mentions.append((cat, score, i, j))
    return mentions


# Categories that say little about what the thing is: a specific one named with them wins.
_GENERIC_CATEGORIES = frozenset({"association"})


def _best_category(mentions: list[tuple[Category, float, int, int]]) -> Category | None:
    if not mentions:
        return None
    counts: dict[str, int] = {}
    for cat, _, _, _ in mentions:
        counts[cat.slug] = counts.get(cat.slug, 0) + 1
    best = max(
        mentions,
        key=lambda m: (
            m[3] - m[2],
            m[0].slug not in _GENERIC_CATEGORIES,  # "bénévole dans une ressourcerie"
            m[1] >= 100,
            counts[m[0].slug],
            -m[2],
        ),
    )
    return best[0]


def _place_hits(
    tokens: list[_Tok],
    covered: set[int],
    gaz: Gazetteer,
    places: _Places,
    cat_starts: set[int],
    cat_ends: set[int],
    home_dept: str | None = None,
) -> list[_PlaceHit]:
    """Every token sequence that is exactly a commune (or known locality) name, in context."""
    hits: list[_PlaceHit] = []
    words = [t.fold for t in tokens]
    letters = [ch for t in tokens for ch in t.text if ch.isalpha()]
    shouting = sum(ch.isupper() for ch in letters) > len(letters) / 2
    n_tokens = len(words)
    for i in range(n_tokens):
        if i in covered:
            continue
        for n in range(min(6, n_tokens - i), 0, -1):
            j = i + n
            if any(k in covered for k in range(i, j)):
                continue
            span = words[i:j]
            before = words[i - 1] if i > 0 else ""
            candidates: list[str] = []
            implied = _ARTICLE_OF.get(before)
            if implied and span[0] not in _ARTICLES:
                candidates.append(_phrase([implied, *span]))
            candidates.append(_phrase(span))
            found: list[Commune] = []
            for phrase in candidates:
                locality = _LOCALITIES.get(phrase)
                if locality is not None and (locality[1] is None or locality[1] == home_dept):
                    commune = gaz.current(locality[0])
                    if commune is not None:
                        # same-name communes stay candidates ("Saint-Gilles dans le Gard")
                        found = [commune, *gaz.exact(phrase)]
                        break
                if keys_of_folded(phrase).compact not in places.compacts:
                    continue
                found = gaz.exact(phrase)
                if found:
                    break
            if not found:
                continue
            hits.append(_judge(tokens, i, j, found, cat_starts, cat_ends, shouting))
            break  # longest name starting here
    return hits


def _judge(
    tokens: list[_Tok],
    i: int,
    j: int,
    found: list[Commune],
    cat_starts: set[int],
    cat_ends: set[int],
    shouting: bool,
) -> _PlaceHit:
    """How surely the words [i, j) name a place, from what surrounds them.

    A capitalised word inside a sentence ("du Port", "de Petite-Île") is a proper noun:
    it counts as unmistakable even when it is also an ordinary word.
    """
    words = [t.fold for t in tokens]
    span = words[i:j]
    content = [w for w in span if w not in _ARTICLES]
    uncommon = [w for w in content if w not in _COMMON]
    has_article = len(content) < len(span)
    first_content = next((k for k in range(i, j) if words[k] not in _ARTICLES), i)
    capital = not shouting and first_content > 0 and tokens[first_content].text[:1].isupper()
    strong = capital or (bool(uncommon) and (len(content) >= 2 or has_article or len(uncommon[0]) >= 4))
    ctx = i - 1
    while ctx >= 0 and words[ctx] in _ARTICLES:
        ctx -= 1
    word = words[ctx] if ctx >= 0 else ""
    context = 0
    if content and content[0] in _IDIOMS:
        context = 0
    elif word in _PLACE_STRONG:
        context = 2
        if word == "a" and ctx >= 1 and words[ctx - 1] in {"y", "il", "ya"}:
            context = 0  # "il y a" is "there is"
    elif word in _PLACE_WEAK and strong:
        context = 1
    adjacent = (ctx in cat_ends and (strong or has_article)) or (j in cat_starts and strong)
    return _PlaceHit(i, j, found, context, strong, adjacent, capital, has_article)


def _postcodes(tokens: list[_Tok], gaz: Gazetteer) -> list[tuple[int, list[Commune]]]:
    found: list[tuple[int, list[Commune]]] = []
    for i, tok in enumerate(tokens):
        if len(tok.fold) == 5 and tok.fold.isdigit():
            communes = gaz.by_postcode(tok.fold)
            if not communes:
                current = gaz.current(tok.fold)
                communes = [current] if current is not None else []
            if communes:
                found.append((i, communes))
    return found


def _dept_qualifiers(tokens: list[_Tok], cleaned: str) -> tuple[set[str], dict[int, set[str]]]:
    """Départements the text names ("dans le 974", "Saint-Louis (68)", "dans la Somme")."""
    deps: set[str] = set()
    used: dict[int, set[str]] = {}  # token -> the départements it names
    words = [t.fold for t in tokens]
    names = _dept_names()
    for i, w in enumerate(words):
        prev = words[i - 1] if i > 0 else ""
        prev2 = words[i - 2] if i > 1 else ""
        code = w.upper()
        in_parens = cleaned[: tokens[i].start].rstrip().endswith("(")
        if code in DEPARTEMENTS and (
            len(w) == 3 or w[0] == "0" or prev in {"le", "dans"} or prev2 == "dans" or in_parens
        ):
            following = words[i + 1] if i + 1 < len(words) else ""
            if following not in _UNITS:
                deps.add(code)
                used.setdefault(i, set()).add(code)
        for n in (5, 4, 3, 2, 1):
            phrase = " ".join(words[i : i + n])
            if phrase in names and (
                prev in _DEPT_NAME_WORDS
                or prev2 in _DEPT_NAME_WORDS
                or (prev in _ARTICLES and prev2 in _DEPT_NAME_WORDS)
            ):
                deps.update(names[phrase])
                for k in range(i, i + n):
                    used.setdefault(k, set()).update(names[phrase])
                break
    return deps, used


@cache
def _dept_names() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for code, name in DEPARTEMENTS.items():
        keys = keys_of_folded(fold_name(name))
        for key in {keys.full, keys.bare}:
            table.setdefault(key, set()).add(code)
    table.setdefault("reunion", set()).add("974")
    return {k: frozenset(v) for k, v in table.items()}


def _fuzzy_place(
    tokens: list[_Tok], covered: set[int], gaz: Gazetteer, places: _Places, home: Commune | None
) -> tuple[int, int, list[Commune]] | None:
    """A misspelt commune after a place word ("à Salazi", "in st pierr").

    First among the communes of the home département and the towns and overseas communes
    (cheap); the whole gazetteer's typo search only for a capitalised word or after
    "j'habite" / "I live in", where a place is certain.
    """
    words = [t.fold for t in tokens]
    vocabulary = _FR_MARKERS | _EN_MARKERS | _IDIOMS
    for i, w in enumerate(words):
        if w not in _PLACE_STRONG:
            continue
        first = i + 1
        while first < len(words) and words[first] in _ARTICLES:
            first += 1
        chunk: list[str] = []
        k = first
        while k < len(words) and k not in covered and len(chunk) < 4:
            word = words[k]
            if word.isdigit() or word in _PLACE_WORDS:
                break
            if word in vocabulary and word not in {"saint", "sainte", "st", "ste"}:
                break
            chunk.append(word)
            k += 1
        if not chunk or len("".join(chunk)) < 4:
            continue
        for size in range(len(chunk), 0, -1):
            if chunk[size - 1] in {"saint", "sainte", "st", "ste", "sen", "les", "le", "la"}:
                continue  # "Sainte-Clotilde" is not a misspelt "Saint-Leu"
            key = _compact(chunk[:size])
            if len(key) < 5:
                break
            pools: list[tuple[list[str], list[str]]] = []
            if home is not None and home.departement in places.near_keys:
                pools.append(places.near_keys[home.departement])
            pools.append(places.popular)
            for keys, codes in pools:
                hit = process.extractOne(key, keys, scorer=fuzz.ratio, score_cutoff=84)
                if hit is None:
                    continue
                commune = gaz.current(codes[hit[2]])
                if commune is not None:
                    return first, first + size, gaz.exact(commune.name) or [commune]
        certain = tokens[first].text[:1].isupper() or w in {"habite", "jhabite", "live", "vis"}
        if certain:
            near = home.insee if home is not None else None
            matches = gaz.resolve(" ".join(chunk), near=near, limit=3)
            if matches and matches[0].score >= 85:
                return first, first + len(chunk), [m.commune for m in matches]
    return None


def _radius(plain: str) -> float | None:
    for m in _RADIUS.finditer(plain):
        value = float(m.group(1).replace(",", "."))
        unit = m.group(2).lower()
        if unit.startswith("mi"):
            km = value * MILE_KM
        elif unit.startswith("k"):
            km = value
        else:
            km = value / 1000
        if 0 < km <= 500:
            return round(km, 3)
    return None


def _detect_lang(reading: _Reading, tax: Taxonomy, hint: str | None) -> str:
    fr = en = 0.0
    for tok in reading.tokens:
        if tok.fold in _FR_MARKERS:
            fr += 1
        if tok.fold in _EN_MARKERS:
            en += 1
    if any(ch in "éèêàçùâîôû" for ch in reading.cleaned.lower()):
        fr += 0.5
    for _cat, _, i, j in reading.cat_mentions:
        langs = tax.term_langs(" ".join(t.fold for t in reading.tokens[i:j]))
        if langs == {"en"}:
            en += 1
        elif langs == {"fr"}:
            fr += 1
    if fr == en:
        return hint if hint in ("fr", "en") else "fr"
    return "fr" if fr > en else "en"


def _whole_message(folded: str) -> str | None:
    """Intent of a message that is only a short answer ("oui merci", "la suite")."""
    words = folded.split()
    if not words or len(words) > 8:
        return None
    candidates = [" ".join(words)]
    trimmed = list(words)
    while trimmed and trimmed[0] in _FILLERS:
        trimmed = trimmed[1:]
    while trimmed and trimmed[-1] in _FILLERS:
        trimmed = trimmed[:-1]
    if trimmed:
        candidates.append(" ".join(trimmed))
    for text in candidates:
        for intent in ("cancel", "no", "yes", "thanks", "greeting", "help", "more", "me", "settings"):
            if text in _WHOLE[intent]:
                return intent
    return _short_answer(words) or (_short_answer(trimmed) if trimmed else None)


# The first word of a short answer says what it is: "oui c'est ça", "non pas celui-là",
# "merci, bonne journée". Only for a few words, with nothing searchable in them.
_HEADS: tuple[tuple[str, frozenset[str], int], ...] = (
    ("cancel", frozenset({"annuler", "annule", "annulez", "cancel", "abandonner", "arrete"}), 4),
    ("no", frozenset({"non", "nan", "no", "nope", "nah", "nop"}), 5),
    (
        "yes",
        frozenset(
            {
                "oui",
                "ouais",
                "ouai",
                "ok",
                "okay",
                "oki",
                "yes",
                "yep",
                "yeah",
                "yup",
                "sure",
                "dac",
                "daccord",
                "parfait",
                "exact",
                "exactement",
                "volontiers",
                "absolument",
                "carrement",
                "certainement",
                "correct",
            }
        ),
        4,
    ),
    ("thanks", frozenset({"merci", "mci", "mrc", "thx", "thanks", "thank", "ty", "cimer"}), 6),
)
_MORE_WORDS = frozenset({"autres", "autre", "suite", "suivant", "suivants", "more", "next", "others"})
_HELP_PHRASE = re.compile(
    r"^(?:comment (?:on fait|ca marche|faire|je fais|utiliser)|que faire|quoi faire|"
    r"what (?:do|can|should) i do|how (?:do|does|can) (?:i|it|this|you)|how to)\b"
)


def _short_answer(words: list[str]) -> str | None:
    if not words or len(words) > 6:
        return None
    for intent, heads, longest in _HEADS:
        if words[0] in heads and len(words) <= longest:
            return intent
    if _HELP_PHRASE.search(" ".join(words)):
        return "help"
    if any(w in _MORE_WORDS for w in words) and len(words) <= 5:
        return "more"
    return None


_NAME_STOP = _words(
    """
    a au aux en sur dans vers de du des d pour avec est il elle qui que c je j on et ou mais
    super top genial excellent tres vraiment trop in at on is who which and but for with
    very really great a an svp stp please merci car parce
    """
)
_NAME_LEAD = frozenset(
    {"le", "la", "les", "l", "mon", "ma", "mes", "un", "une", "the", "my", "a", "an", "notre"}
)
_NAME_PREP = frozenset({"du", "de", "des", "d"})
_CLAUSE_BREAK = re.compile(r"[,.;:!?()\"«»\n]")


def _name(reading: _Reading, place: tuple[int, int] | None, verb_end: int | None) -> str | None:
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
        chez = tokens[first].fold in {"chez", "dr", "docteur", "doc"}
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


def _acceptable(
    hit: _PlaceHit,
    words: list[str],
    content: list[int],
    qual_tokens: dict[int, set[str]],
    has_category: bool,
) -> bool:
    """Whether a commune name found in the text is meant as a place."""
    named = set().union(*(qual_tokens.get(k, set()) for k in range(hit.start, hit.end)))
    if named and not any(c.departement in named for c in hit.communes):
        return False  # "à la Réunion" is the island, not La Réunion (47)
    if hit.start > 0 and words[hit.start - 1] in _NAME_INTRO and not hit.context:
        return False  # "je m'appelle Marie": a first name
    whole_text = all(hit.start <= k < hit.end for k in content)
    big = any(c.population >= 20000 for c in hit.communes[:1])
    several = hit.end - hit.start > 1
    # "atelier théâtre enfants le port": an article + name closing a request
    trailing = hit.article and hit.end == len(words) and has_category
    return bool(
        hit.context
        or whole_text
        or hit.adjacent
        or trailing
        or (hit.strong and (several or big or hit.capital))
    )


def _settle_place(
    reading: _Reading,
    accepted: list[_PlaceHit],
    deps: set[str],
    qual_tokens: dict[int, set[str]],
    covered: set[int],
    gaz: Gazetteer,
    places: _Places,
    home: Commune | None,
) -> tuple[list[Commune], tuple[int, int] | None, bool]:
    """The communes the message names, best first; their token span; whether that span
    is a place rather than part of an entry's name.

    The surest name wins (not a département name, after a place word, unmistakable,
    longest, last); a postcode narrows it or stands alone; with neither, a misspelt name
    after a place word; a département named anywhere narrows same-name communes, then
    the home commune orders them.
    """
    tokens = reading.tokens
    words = [t.fold for t in tokens]
    deps = set(deps)
    communes: list[Commune] = []
    span: tuple[int, int] | None = None
    is_place = False
    if accepted:
        best = max(
            accepted,
            key=lambda h: (
                not any(k in qual_tokens for k in range(h.start, h.end)),  # "dans la Somme"
                h.context,
                h.strong,
                h.end - h.start,
                h.start,
            ),
        )
        after = words[best.end] if best.end < len(words) else ""
        following = words[best.end + 1] if best.end + 1 < len(words) else ""
        if after.upper() in DEPARTEMENTS and following not in _UNITS:
            deps.add(after.upper())  # "Saint-Louis 68", "Saint-Denis 93"
        communes = best.communes
        span = (best.start, best.end)
        # "FC Avirons": a capitalised place right after a capitalised word is part of a name
        is_place = not (best.context == 0 and best.capital and tokens[best.start - 1].text[:1].isupper())
    postcodes = _postcodes(tokens, gaz)
    if postcodes:
        index, by_code = postcodes[0]
        if communes:
            named = {c.insee for c in communes}
            narrowed = [p for p in by_code if p.insee in named]
            # "Marseille 13005": the arrondissement of that postcode
            narrowed += [p for p in by_code if p.parent in named]
            communes = narrowed or communes
        else:
            communes, span, is_place = by_code, (index, index + 1), True
    if not communes:
        fuzzy = _fuzzy_place(tokens, covered | set(qual_tokens), gaz, places, home)
        if fuzzy is not None:
            span, communes, is_place = (fuzzy[0], fuzzy[1]), fuzzy[2], True
    if deps and len(communes) > 1:
        communes = [c for c in communes if c.departement in deps] or communes
    return _order_by_home(gaz, communes, home), span, is_place


def parse(text: str, *, lang: str | None = None, home: str | None = None) -> Parse:
    """Read one chat message. ``lang`` is a hint for ambiguous text; ``home`` an INSEE code."""
    hint = lang if lang in ("fr", "en") else None
    if not isinstance(text, str):
        return Parse("unknown", lang=hint or "fr")
    cleaned = clean(text[: MAX_CHARS * 4], max_length=MAX_CHARS)
    tokens = _tokens(cleaned)
    if not tokens:
        # nothing readable: empty, emojis, punctuation; "???" is a call for help
        intent = "help" if "?" in cleaned else "unknown"
        return Parse(intent, lang=hint or "fr")
    tax = get_taxonomy()
    gaz = get_gazetteer()
    places = _places()
    folded = " ".join(t.fold for t in tokens)
    reading = _Reading(tokens, folded, cleaned, _plain(cleaned))
    home_commune = gaz.current(home) if isinstance(home, str) and home else None

    whole = _whole_message(folded)

    # "ça marche" is "OK", never a market
    blocked: set[int] = set()
    words = [t.fold for t in tokens]
    for k in range(len(words) - 1):
        if words[k] in {"ca", "sa", "ce"} and words[k + 1] in {"marche", "marchera", "fonctionne"}:
            blocked.update({k, k + 1})
        if words[k] in {"je", "j", "tu", "on", "il", "elle"} and words[k + 1] == "marche":
            blocked.add(k + 1)  # "je marche", the verb
        if words[k] in _NAME_INTRO and tokens[k + 1].text[:1].isupper():
            blocked.add(k + 1)  # "je m'appelle Marie": neither a mairie nor a commune
    mentions = _categories(reading, tax, blocked)
    # exact category words first; typo-tolerant ones only where no commune name is
    # ("Sainte-Marie" is not a misspelt "mairie")
    reading.cat_mentions = [m for m in mentions if m[1] >= 100]
    exact_tokens = {k for _, _, i, j in reading.cat_mentions for k in range(i, j)}
    deps, qual_tokens = _dept_qualifiers(tokens, cleaned)
    covered = set(exact_tokens)
    hits = _place_hits(
        tokens,
        covered,
        gaz,
        places,
        {i for _, _, i, _ in reading.cat_mentions},  # a typo category is no landmark
        {j - 1 for _, _, _, j in mentions},
        home_commune.departement if home_commune is not None else None,
    )
    content = [k for k in range(len(tokens)) if k not in covered and words[k] not in _FILLERS]
    accepted = [
        hit for hit in hits if _acceptable(hit, words, content, qual_tokens, bool(reading.cat_mentions))
    ]
    place_tokens = {k for h in accepted for k in range(h.start, h.end)}
    for m in mentions:
        if m[1] < 100 and not any(k in place_tokens for k in range(m[2], m[3])):
            reading.cat_mentions.append(m)
    reading.cat_mentions.sort(key=lambda m: m[2])
    lang_found = _detect_lang(reading, tax, hint)
    if whole is not None and not reading.cat_mentions:
        return Parse(whole, lang=lang_found)

    category = _best_category(reading.cat_mentions)
    cat_tokens = {k for _, _, i, j in reading.cat_mentions for k in range(i, j)}
    accepted = [h for h in accepted if not any(k in cat_tokens for k in range(h.start, h.end))]
    place = _settle_place(
        reading, accepted, deps, qual_tokens, covered | cat_tokens, gaz, places, home_commune
    )
    commune_list, place_span, place_context = place
    candidates = tuple(dict.fromkeys(c.insee for c in commune_list))
    commune = candidates[0] if candidates else None

    # --- radius and near me ---
    radius = _radius(reading.plain)
    near_me = bool(_NEAR_ME.search(folded))
    if not near_me and commune is None and (_NEAR_GENERIC.search(folded) or radius is not None):
        near_me = True

    # --- intent ---
    group = category is not None and category.org_type == "association"
    intent, verb_end = _intent(
        folded,
        tokens,
        whole,
        category is not None,
        commune is not None,
        group,
        around=near_me or radius is not None,
    )
    name = None
    if intent in {"recommend", "join", "announce_project"}:
        name = _name(reading, place_span if place_context else None, verb_end)
    if intent in _NO_SLOTS:
        category = None
    return Parse(
        intent=intent,
        category=category.slug if category else None,
        commune=commune,
        commune_candidates=candidates,
        near_me=near_me,
        radius_km=radius,
        name=name,
        lang=lang_found,
    )


_NO_SLOTS = frozenset({"greeting", "help", "thanks", "cancel", "yes", "no", "more", "me", "settings"})
# Adding one's own place: "ajouter mon asso", "inscrire ma boulangerie", "add my business".
_ADD = _rx(
    r"(?:ajouter|ajoute|inscrire|inscris|referencer|enregistrer|declarer|proposer)"
    r" (?:mon|ma|mes|notre|nos|un|une|le|la|l) ?(?!fils\b|fille\b|enfant|gamin|petit|bebe)\w+",
    r"(?:add|list|register) (?:my|our|a|an|the) (?!son\b|daughter|kid|child)\w+",
    r"apparaitre (?:dans|sur)",
    r"figurer (?:dans|sur)",
    r"etre (?:reference|referencee|liste|listee|dans l annuaire)",
    r"me (?:referencer|faire connaitre)",
    r"(?:be|get) listed",
)
_MY_RECOMMENDATIONS = re.compile(r"\b(?:mes|my) recommand|\bmy recommendations\b")
_GROUP_WORDS = re.compile(r"\b(?:asso\w*|club|groupe|collectif)\b")


def _intent(
    folded: str,
    tokens: list[_Tok],
    whole: str | None,
    has_category: bool,
    has_commune: bool,
    has_group_category: bool = False,
    around: bool = False,
) -> tuple[str, int | None]:
    """The intent, from the most specific phrasing to the most general, and the index of
    the first token after the verb that announced it (where an entry's name may start)."""
    if _RECOMMEND_ASK.search(folded):
        return "search", None  # "tu me conseilles un garagiste ?" asks, it does not recommend
    if whole == "me" or _MY_RECOMMENDATIONS.search(folded):
        return "me", None
    if found := _JOIN.search(folded):
        return "join", _token_after(tokens, found.end())
    creating = _CREATE.search(folded)
    project = _PROJECT.search(folded)
    if project or (creating and (has_category or _GROUP_WORDS.search(folded))):
        verb = creating or project
        return "announce_project", _token_after(tokens, verb.end()) if verb else None
    if found := _RECOMMEND.search(folded):
        return "recommend", _token_after(tokens, found.end())
    if _ADD.search(folded):
        # one's own group is joined (created if missing); any other place is recommended
        group = has_group_category or _GROUP_WORDS.search(folded)
        return ("join" if group else "recommend"), None
    if _REGISTER.search(folded) and not has_category:
        return "register", None
    if has_category or has_commune or around:
        return "search", None  # "10 km", "près de chez moi": a search around the user
    if whole is not None:
        return whole, None
    if _SEARCH_WORDS.search(folded) and len(tokens) > 1:
        return "search", None
    if len(tokens) <= 12 and tokens[0].fold in _WHOLE["greeting"]:
        return "greeting", None
    return "unknown", None


def _token_after(tokens: list[_Tok], folded_end: int) -> int:
    """Index of the first token starting after a character offset of the folded text."""
    pos = 0
    for i, tok in enumerate(tokens):
        if pos >= folded_end:
            return i
        pos += len(tok.fold) + 1
    return len(tokens)


def warm_up() -> None:
    """Load the taxonomy and gazetteer indexes now rather than on the first message."""
    get_taxonomy()
    _places()
    _dept_names()
