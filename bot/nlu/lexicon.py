"""The words the bot reads: one home for every word list of short answers and languages.

Pure data plus two pure helpers (``yes_no``, ``is_cancel_words``); it imports no other
NLU module, so dialogs and the router use it without loading the parser, the taxonomy or
the gazetteer. Words are folded (``directory.text.fold``: no accents, no case,
punctuation as spaces), except a few emojis checked before folding.
"""

from __future__ import annotations

from directory.text import clean, fold

# fmt: off


def word_set(text: str) -> frozenset[str]:
    """A word set written as one block of text (easier to read and extend)."""
    return frozenset(text.split())


FR_MARKERS = word_set(
    """
    je j tu il elle on nous vous le la les un une des du de au aux et est pour dans sur avec
    pas moi chez pres cherche recherche bonjour merci oui non svp stp ya g quel quelle quels
    qui ma mon mes c qu besoin salut aide habite annuler encore suite ou trouver quoi coin
    fais partie suis membre lance projet recommande conseille cote loin proche bonsoir
    coucou slt bjr mci ouais nan dispo urgent ouvert ouverte quelqu connait voudrais veux
    cherch moins rayon autour jcherche jhabite jrecommande ici parametres langue profil
    telephone numero adresse horaires comprend rien truc ke fo fe celle celui ousa nena zot
    mi rod kaz marmay koi
    """
)
EN_MARKERS = word_set(
    """
    i you the an is are in near me my for with where what any looking need find please
    hello hi hey thanks thank yes help recommend live from of to there can do does how this
    good open nearby around within miles member join settings more cancel never mind nope
    yep show it we our new starting launching just moved town closest nearest add announce
    project change language recommendation results
    someone anyone place want would like belong volunteer part opening hours kids son baby
    thx no next bot sure great alright bye website phone number further away wider search
    about speak french english laptop won turn saturday sunday football play confused type
    day nice have night see email address hours
    """
)

#: typed words that leave any open dialog (the /cancel command does too), and the NLU's
#: "cancel" intent
CANCEL_WORDS = frozenset(
    ["annuler", "annule", "annulez", "laisse tomber", "laisser tomber", "stop", "arrete",
     "arreter", "abandonner", "abandon", "cancel", "never mind", "nevermind",
     "forget it", "quit", "quitter", "sortir", "abort", "exit"]
)
#: a yes to a pending question (dialogs) and the NLU's "yes" intent
YES_WORDS = frozenset(
    ["oui", "ouais", "ouai", "ouii", "wi", "ok", "okay", "oki", "d accord", "dac",
     "daccord", "ca marche", "parfait", "volontiers", "bien sur", "carrement", "yes",
     "yep", "yeah", "yup", "sure", "of course", "yes please", "oui merci", "ok merci",
     "c est bon", "go", "vas y", "exact", "exactement", "tout a fait", "absolument",
     "correct", "that s right", "right", "oui oui", "c est ca", "voila", "confirme",
     "je confirme", "valider", "valide", "y", "o", "confirm", "sounds good", "super", "👍"]
)
#: a no to a pending question (dialogs) and the NLU's "no" intent
NO_WORDS = frozenset(
    ["non", "nan", "nope", "no", "n", "non merci", "non c est bon", "non ca va", "ca ira",
     "no that s fine", "no it s fine", "non ca ira", "no thanks", "no thank you",
     "pas maintenant", "not now", "jamais", "nah", "non pas du tout", "pas du tout",
     "not really", "pas vraiment", "negatif", "👎"]
)
#: an acknowledgement ("ok", "cool", "got it"): answers nothing, needs no question; a
#: pending yes/no question takes it as a yes (``yes_no``)
ACK_WORDS = frozenset(
    ["ok", "okay", "oki", "okok", "d accord", "dac", "daccord", "cool", "super", "parfait",
     "top", "nickel", "ca marche", "ok ca marche", "ca roule", "entendu", "pas de souci",
     "pas de probleme", "tres bien", "genial", "excellent", "ok merci", "ok cool", "lol ok",
     "ok super", "ok top", "ah ok", "ah d accord", "got it", "alright", "all right", "great",
     "perfect", "noted", "fine", "no problem", "ok thanks", "ok great", "sounds good",
     "understood", "kk", "k", "👍", "👌", "oke", "okey", "okay cool", "ok bon"]
)
#: leave-taking, alone or closing a short message ("merci, bonne journée")
BYE_WORDS = frozenset(
    ["au revoir", "aurevoir", "bye", "bye bye", "a plus", "a toute", "a bientot", "a demain",
     "bonne journee", "bonne soiree", "bonne nuit", "bonne fin de journee", "bon week end",
     "bonne semaine", "ciao", "tchao", "salut a plus", "a la prochaine", "see you",
     "see you later", "see ya", "goodbye", "good bye", "good night", "have a nice day",
     "have a good day", "have a good one", "take care", "later", "cya", "a plus tard", "a+"]
)
# politeness dropped at the end of a yes/no answer ("ok merci", "non svp")
_POLITE_TAILS = (" merci", " thanks", " thank you", " svp", " please", " stp")


def yes_no(text: str) -> bool | None:
    """"oui", "ouais", "ok", "yes", "yep" -> True; "non", "no", "nope" -> False; else None.

    Tolerates case, accents, punctuation and a trailing "merci"/"thanks".
    """
    raw = clean(text).strip()
    if raw in YES_WORDS or raw in ACK_WORDS:
        return True
    if raw in NO_WORDS:
        return False
    folded = fold(raw)
    if not folded:
        return None
    for suffix in _POLITE_TAILS:
        if folded.endswith(suffix) and folded != suffix.strip():
            folded = folded[: -len(suffix)].strip()
    if folded in YES_WORDS or folded in ACK_WORDS:
        return True
    if folded in NO_WORDS:
        return False
    return None


def is_cancel_words(text: str) -> bool:
    """"annuler", "Cancel !", "laisse tomber" (any case, accents, punctuation); not commands."""
    return fold(text) in CANCEL_WORDS


# Whole-message answers (after dropping politeness around them).
FILLERS = word_set("svp stp please pls plz merci a plus bye ciao thx alors bon euh hmm lol mdr haha")
WHOLE: dict[str, frozenset[str]] = {
    "cancel": CANCEL_WORDS,
    "no": NO_WORDS,
    "bye": BYE_WORDS,
    "ack": ACK_WORDS,
    "yes": YES_WORDS,
    "thanks": frozenset(
        ["merci", "mci", "mrc", "merci beaucoup", "merci bien", "merci bcp", "thx", "thanks",
         "thank you", "thank you so much", "thanks a lot", "ty", "cool merci", "super merci",
         "top merci", "many thanks", "merci infiniment", "ta", "cheers", "nice one",
         "thanks mate", "merci a vous", "merci a toi", "mersi", "mrci", "merssi", "bisous",
         "biz", "bizou", "bizous"]
    ),
    "greeting": frozenset(
        ["bonjour", "bonsoir", "salut", "slt", "coucou", "bjr", "bsr", "yo", "hello", "hi",
         "hey", "hola", "good morning", "good evening", "good afternoon", "morning", "kikou",
         "cc", "wesh", "hi there", "hey there", "hello there", "salut a toi", "bonjour a tous",
         "allo", "start", "demarrer", "commencer", "hows it going", "how s it going",
         "how are you", "ca va", "comment ca va", "sa va", "koman i lé", "koman le", "ca va ou"]
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
         "je suis perdu", "je suis perdue", "perdu", "i m lost", "help me please",
         "je m y retrouve pas", "je m y retrouve plus", "j y comprends rien", "ke i fo fe",
         "c est quoi les commandes", "what do i type", "what can i ask you", "i m confused"]
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
         "configuration", "config", "change my language"]
    ),
}

NAME_INTRO = frozenset({"appelle", "apelle", "name", "nom", "prenom", "called", "am", "suis"})

# The first word of a short answer says what it is: "oui c'est ça", "non pas celui-là",
# "merci, bonne journée". Only for a few words, with nothing searchable in them.
HEADS: tuple[tuple[str, frozenset[str], int], ...] = (
    ("cancel", frozenset({"annuler", "annule", "annulez", "cancel", "abandonner", "arrete"}), 4),
    ("no", frozenset({"non", "nan", "no", "nope", "nah", "nop"}), 5),
    ("ack", frozenset({"ok", "okay", "oki", "cool", "super", "parfait", "top", "nickel",
                       "great", "alright", "dac", "daccord"}), 3),
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
MORE_WORDS = frozenset({"autres", "autre", "suite", "suivant", "suivants", "more", "next", "others"})

# fmt: on
