"""Intent patterns in both languages, from the most specific to the most general."""

from __future__ import annotations

import re

from bot.nlu.lexicon import BYE_WORDS, FILLERS, HEADS, MORE_WORDS, WHOLE
from bot.nlu.projects import asks_for_projects
from bot.nlu.tokens import Tok, rx, token_after
from bot.nlu.when import read_when

INTENTS: tuple[str, ...] = (
    "search", "recommend", "join", "announce_project", "announce_event", "register", "help", "greeting",
    "thanks", "cancel", "yes", "no", "more", "me", "settings", "unknown", "bye", "ack",
    "share", "switch_language", "move",
)  # fmt: skip
#: intents that carry no search slots (a category named in them is dropped)
NO_SLOTS = frozenset(
    {"greeting", "help", "thanks", "cancel", "yes", "no", "more", "me", "settings", "bye",
     "ack", "share", "switch_language"}
)  # fmt: skip

_RECOMMEND_ASK = rx(
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
_RECOMMEND = rx(
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
_JOIN = rx(
    r"fais partie",
    r"j ?fe part?i",
    r"jfai part?i",
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
    r"i (?:work|help out|help|play|sing|dance) (?:there|at|with|in|for)",
    r"j y (?:travaille|joue|chante|danse|suis)",
    r"je (?:bosse|travaille) (?:la bas|la|avec eux|chez eux)",
    r"i m part of",
    r"i am part of",
    r"join",
    r"joined",
    r"i sing in",
    r"i play (?:for|in|with)",
    r"i play \w+ (?:for|at|in|with)",
    r"suis licencie\w*",
    r"je suis (?:au|a la|a l|dans le|dans la) (?:\w+ )?"
    r"(?:club|judo|karate|foot|hand|basket|volley|rugby|tennis|chorale|troupe|asso\w*)",
    r"(?:je donne|on donne) (?:un )?coups? de main (?:a|au|aux|chez|dans)",
    r"i help out",
    r"help out at",
    r"(?:mi|moin) (?:fe|fait) parti",
    r"fe parti",
    r"i m a volunteer",
)
_PROJECT_OWN = rx(
    r"j ?ai (?:un|une idee de) projet",
    r"(?:nouveau|mon|notre) projet",
    r"(?:new|my|our) project",
    r"i have (?:an idea for )?a project",
    r"annoncer un projet",
    r"announce a project",
)
#: telling of an event one organises ("j'organise un vide-grenier samedi")
_ORGANISE = rx(
    r"j ?organise",
    r"jorganise",
    r"on organise",
    r"nous organisons",
    r"organise (?:un|une|le|la|notre|mon|ma)",
    r"organiser (?:un|une)",
    r"i m organi[sz]ing",
    r"i am organi[sz]ing",
    r"we re organi[sz]ing",
    r"we are organi[sz]ing",
    r"organi[sz]ing (?:a|an|our|the)",
    r"(?:i m|i am|we re|we are) hosting",
    r"(?:annoncer|ajouter|publier|creer|proposer) (?:un|mon|notre) (?:evenement|evenemen|event)",
    r"(?:announce|add|post|publish|create) (?:an|my|our) event",
    r"(?:nouvel|nouveau) (?:evenement|event)",
    r"new event",
)
_PROJECT_WORD = rx(r"projets?", r"projects?")
_MY_PROJECT = rx(r"mon projet", r"mes projets", r"my projects?", r"notre projet", r"our project")
_VOLUNTEER_CALL = rx(
    r"(?:cherch\w*|looking for|need|besoin)\s+(?:de\s+|des\s+|d\s+|some\s+)?"
    r"(?:benevoles|volunteers|bras|helpers|coups de main)",
)
_CREATE = rx(
    r"je lance",
    r"on lance",
    r"nous lancons",
    r"lancer",
    r"je monte",
    r"jmonte",
    r"jlance",
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
_REGISTER = rx(
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
_SEARCH_WORDS = rx(
    r"cherche\w*",
    r"ousa",
    r"ousa i le",
    r"nena",
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

NO_SLOTS = frozenset({"greeting", "help", "thanks", "cancel", "yes", "no", "more", "me", "settings"})
# Adding one's own place: "ajouter mon asso", "inscrire ma boulangerie", "add my business".
_ADD = rx(
    r"(?:ajouter|ajoute|inscrire|inscris|referencer|enregistrer|declarer|proposer)"
    r" (?:mon|ma|mes|notre|nos|un|une|le|la|l) ?(?!fils\b|fille\b|enfant|gamin|petit|bebe)\w+",
    r"(?:add|list|register) (?:my|our|a|an|the) (?!son\b|daughter|kid|child)\w+",
    r"apparaitre (?:dans|sur)",
    r"figurer (?:dans|sur)",
    r"etre (?:reference|referencee|liste|listee|dans l annuaire)",
    r"me (?:referencer|faire connaitre)",
    r"(?:be|get) listed",
)
# Praise is a recommendation: "le meilleur boucher c'est X", "allez-y de ma part", "X c'est top".
_PRAISE = rx(
    r"(?:le|la) meilleure?",
    r"the best",
    r"c est (?:vraiment |trop )?(?:top|super|genial|parfait|extra)",
    r"de ma part",
    r"allez y",
    r"go there",
    r"(?:est|is|sont|are) (?:vraiment |trop |tres |really |so )?"
    r"(?:top|au top|genial|geniale|super|excellent|excellente|great|brilliant|amazing|fantastic|bien)",
    r"(?:il|elle) est au top",
    r"super accueil",
    r"a great",
    r"tell them i sent you",
    r"say i sent you",
    r"go see",
    r"allez voir",
)
_MOVE = rx(
    r"j ai demenage",
    r"(?:je viens|on vient|nous venons) d (?:emmenager|arriver)",
    r"je viens de m installer",
    r"on vient de s installer",
    r"emmenage",
    r"demenage",
    r"(?:nouveau|nouvelle|nouveaux|nouvelles) (?:dans le coin|ici|dans le quartier|a|au|aux|en|sur|dans)",
    r"je suis (?:nouveau|nouvelle)",
    r"j habite maintenant",
    r"jhabite maintenant",
    r"i (?:just )?moved",
    r"^just moved",
    r"moved (?:to|in) ",
    r"new in town",
    r"new (?:here|to the area|to town)",
    r"i now live",
    r"now living in",
    r"just arrived in",
)
_MY_RECOMMENDATIONS = re.compile(r"\b(?:mes|my) recommand|\bmy recommendations\b")
_GROUP_WORDS = re.compile(r"\b(?:asso\w*|club|groupe|collectif)\b")


def read_intent(
    folded: str,
    tokens: list[Tok],
    whole: str | None,
    has_category: bool,
    has_commune: bool,
    has_group_category: bool = False,
    around: bool = False,
    question: bool = False,
) -> tuple[str, int | None]:
    """The intent, from the most specific phrasing to the most general, and the index of
    the first token after the verb that announced it (where an entry's name may start)."""
    if _RECOMMEND_ASK.search(folded):
        return "search", None  # "tu me conseilles un garagiste ?" asks, it does not recommend
    if whole == "me" or _MY_RECOMMENDATIONS.search(folded):
        return "me", None
    if found := _JOIN.search(folded):
        return "join", token_after(tokens, found.end())
    creating = _CREATE.search(folded)
    if question and not creating and _PROJECT_OWN.search(folded) and _MY_PROJECT.search(folded):
        return "me", None  # "mon projet est publié ?": about one's projects, not a new one
    if found := _ORGANISE.search(folded):
        return "announce_event", token_after(tokens, found.end())
    if asks_for_projects(folded) and not _PROJECT_OWN.search(folded):
        return "search", None  # "projets qui cherchent des bénévoles": others' projects
    own = _PROJECT_OWN.search(folded) or _VOLUNTEER_CALL.search(folded)
    project = _PROJECT_WORD.search(folded)
    if own or (creating and (project or has_category or _GROUP_WORDS.search(folded))):
        verb = creating or own
        return "announce_project", token_after(tokens, verb.end()) if verb else None
    if found := _RECOMMEND.search(folded):
        return "recommend", token_after(tokens, found.end())
    if not question and _PRAISE.search(folded) and not _SEARCH_WORDS.search(folded):
        return "recommend", None
    if _MOVE.search(folded) and not has_category:
        return "move", None
    if project and whole is None:
        return "search", None  # "quels projets à Saint-Paul ?": a question about projects
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
    if len(tokens) <= 12 and tokens[0].fold in WHOLE["greeting"]:
        return "greeting", None
    return "unknown", None


def whole_message(folded: str) -> str | None:
    """Intent of a message that is only a short answer ("oui merci", "la suite")."""
    words = folded.split()
    if not words or len(words) > 8:
        return None
    candidates = [" ".join(words)]
    trimmed = list(words)
    while trimmed and trimmed[0] in FILLERS:
        trimmed = trimmed[1:]
    while trimmed and trimmed[-1] in FILLERS:
        trimmed = trimmed[:-1]
    if trimmed:
        candidates.append(" ".join(trimmed))
    if len(words) <= 6 and any(" ".join(words[-n:]) in BYE_WORDS for n in (1, 2, 3, 4, 5) if n <= len(words)):
        return "bye"  # "merci, bonne journée", "ça marche, à plus"
    for text in candidates:
        for intent in (
            "cancel", "no", "bye", "ack", "yes", "thanks", "greeting", "help", "more", "me",
            "settings",
        ):  # fmt: skip
            if text in WHOLE[intent]:
                return intent
    return _short_answer(words) or (_short_answer(trimmed) if trimmed else None)


_HELP_PHRASE = re.compile(
    r"^(?:comment (?:on fait|ca marche|faire|je fais|utiliser)|que faire|quoi faire|"
    r"what (?:do|can|should) i do|how (?:do|does|can) (?:i|it|this|you)|how to)\b"
)


def _short_answer(words: list[str]) -> str | None:
    if not words or len(words) > 6:
        return None
    for intent, heads, longest in HEADS:
        if words[0] in heads and len(words) <= longest:
            return intent
    if _HELP_PHRASE.search(" ".join(words)):
        return "help"
    if any(w in MORE_WORDS for w in words) and len(words) <= 5:
        # "next week", "le mois suivant": a time, not the next page
        return None if read_when(" ".join(words), bare_day=True) is not None else "more"
    return None
