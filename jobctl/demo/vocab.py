"""Static vocabulary for the synthetic platform: names, cities, interests and phrases.

Plain data only; the generators in this package pick from it with seeded random streams.
"""

from __future__ import annotations

# ---------------------------------------------------------------- names by culture
# Each culture: (women's first names, men's first names, family names).
CULTURES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "en": (
        ["Emma", "Olivia", "Ava", "Sophia", "Charlotte", "Amelia", "Harper", "Evelyn", "Abigail",
         "Emily", "Ella", "Grace", "Chloe", "Lily", "Hannah", "Zoë", "Madison", "Jessica", "Sarah",
         "Megan", "Rachel", "Lauren", "Amy", "Sophie", "Holly", "Freya", "Niamh", "Siobhán", "Imogen",
         "Naomi", "Keisha", "Brianna"],
        ["Liam", "Noah", "Oliver", "James", "William", "Benjamin", "Henry", "Alexander", "Jack",
         "Harry", "George", "Thomas", "Daniel", "Matthew", "Ryan", "Michael", "David", "Chris",
         "Ethan", "Jacob", "Samuel", "Oscar", "Callum", "Rhys", "Seán", "Eoin", "Marcus", "Tyrone"],
        ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
         "Anderson", "Jackson", "White", "Harris", "Martin", "Thompson", "Walker", "Robinson",
         "Clarke", "Wright", "Hughes", "Evans", "O'Brien", "O'Connor", "Murphy", "Kelly", "Campbell",
         "Stewart", "Okafor", "Adeyemi", "Mensah"],
    ),
    "es": (
        ["María", "Lucía", "Sofía", "Martina", "Paula", "Julia", "Valeria", "Daniela", "Carmen",
         "Ana", "Elena", "Laura", "Marta", "Alba", "Noelia", "Inés", "Ximena", "Guadalupe", "Begoña",
         "Ainhoa", "Nerea", "Rocío"],
        ["José", "Hugo", "Martín", "Pablo", "Alejandro", "Álvaro", "Adrián", "Javier", "Diego",
         "Sergio", "Carlos", "Jorge", "Manuel", "Iván", "Rubén", "Andrés", "Raúl", "Íñigo", "Joaquín",
         "Santiago"],
        ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
         "Gómez", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero",
         "Núñez", "Castillo", "Ortiz", "Vargas", "Iglesias", "Peña", "Ibáñez"],
    ),
    "de": (
        ["Anna", "Lena", "Lea", "Leonie", "Lara", "Marie", "Johanna", "Katharina", "Sabine", "Jana",
         "Greta", "Mila", "Käthe", "Anja", "Franziska", "Lisa", "Jülide", "Maren", "Frauke"],
        ["Lukas", "Jonas", "Leon", "Felix", "Maximilian", "Paul", "Finn", "Jan", "Niklas", "Tobias",
         "Florian", "Sebastian", "Jürgen", "Matthias", "Stefan", "Moritz", "Till", "Jörg", "Lutz"],
        ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
         "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
         "Schwarz", "Zimmermann", "Krüger", "Böhm", "Groß", "Weiß", "Lührs"],
    ),
    "tr": (
        ["Ayşe", "Elif", "Zeynep", "Emine", "Fatma", "Merve", "Büşra", "Selin", "Derya", "Gül"],
        ["Mehmet", "Mustafa", "Ahmet", "Emre", "Can", "Burak", "Yusuf", "Oğuz", "Çağlar", "Barış"],
        ["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Öztürk", "Aydın", "Özdemir",
         "Arslan", "Doğan", "Koç"],
    ),
    "fr": (
        ["Camille", "Léa", "Manon", "Chloé", "Inès", "Jade", "Louise", "Hélène", "Élodie", "Margaux",
         "Juliette", "Clémence", "Anaïs", "Océane", "Noémie", "Maëlle", "Sophie", "Agathe"],
        ["Gabriel", "Louis", "Raphaël", "Jules", "Arthur", "Théo", "Nathan", "Mathis", "François",
         "Jérôme", "Antoine", "Étienne", "Benoît", "Maxime", "Timothée", "Loïc", "Gaël", "Hugo"],
        ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
         "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garnier", "Faure", "Rousseau", "Blanc",
         "Guérin", "Bonnet", "Mercier", "Chevalier", "Lemaître", "Benoît"],
    ),
    "ar": (
        ["Yasmine", "Amira", "Leïla", "Nour", "Salma", "Sara", "Meriem", "Rania", "Hiba", "Aïcha"],
        ["Mohamed", "Karim", "Youssef", "Mehdi", "Rayan", "Nabil", "Sofiane", "Omar", "Bilal", "Ilyes"],
        ["Benali", "Haddad", "Mansour", "Belkacem", "El Amrani", "Bouzid", "Saïdi", "Chérif",
         "Benkirane", "Zaoui"],
    ),
    "nordic": (
        ["Alice", "Maja", "Elsa", "Astrid", "Saga", "Ebba", "Wilma", "Åsa", "Linnéa", "Ingrid",
         "Sigrid", "Freja", "Märta", "Agnes", "Signe", "Liv", "Solveig"],
        ["Erik", "Lars", "Oskar", "Axel", "Anders", "Nils", "Gustav", "Johan", "Karl", "Søren",
         "Björn", "Magnus", "Mikael", "Emil", "Pär", "Göran", "Øystein", "Ragnar"],
        ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
         "Persson", "Svensson", "Gustafsson", "Lindqvist", "Lindström", "Sjöberg", "Åberg",
         "Holmström", "Bergström", "Nielsen", "Jensen", "Sørensen", "Jørgensen", "Ødegård"],
    ),
    "pl": (
        ["Zofia", "Małgorzata", "Agnieszka", "Katarzyna", "Joanna", "Ewa", "Alicja"],
        ["Łukasz", "Piotr", "Krzysztof", "Paweł", "Michał", "Tomasz", "Wojciech"],
        ["Nowak", "Wójcik", "Kowalczyk", "Mazur", "Krawczyk", "Pawlak", "Dudek", "Wróbel"],
    ),
    "asian": (
        ["Mei", "Yuki", "Priya", "Ananya", "Ji-woo", "Linh", "Hana", "Aiko", "Deepika", "Xinyi"],
        ["Wei", "Hiroshi", "Arjun", "Rohan", "Minh", "Jun", "Kenji", "Vikram", "Hyun-woo", "Tuấn"],
        ["Chen", "Wang", "Li", "Zhang", "Tanaka", "Sato", "Kim", "Park", "Nguyen", "Tran", "Patel",
         "Sharma", "Singh", "Gupta", "Watanabe", "Lê"],
    ),
}

#: First names nonbinary users pick about half of the time.
UNISEX = ["Alex", "Sam", "Charlie", "Robin", "Jamie", "Kim", "Noa", "Sasha", "Andrea", "Toni",
          "Eli", "River", "Jordan", "Quinn", "Alexis", "Mika", "Luca", "Ash", "Rowan", "Sky", "Kai",
          "Janne", "Dominique", "Claude"]

# ---------------------------------------------------------------- places
# country -> (weight, {culture: weight}, [(city, lat, lon, weight)])
COUNTRIES: dict[str, tuple[float, dict[str, float], list[tuple[str, float, float, float]]]] = {
    "US": (0.34, {"en": .60, "es": .18, "asian": .12, "ar": .02, "fr": .02, "de": .02, "pl": .02, "nordic": .02}, [
        ("New York", 40.7128, -74.0060, 8.3), ("Los Angeles", 34.0522, -118.2437, 3.9),
        ("Chicago", 41.8781, -87.6298, 2.7), ("Houston", 29.7604, -95.3698, 2.3),
        ("Phoenix", 33.4484, -112.0740, 1.6), ("Philadelphia", 39.9526, -75.1652, 1.6),
        ("San Francisco", 37.7749, -122.4194, 0.9), ("Seattle", 47.6062, -122.3321, 0.75),
        ("Austin", 30.2672, -97.7431, 1.0), ("Boston", 42.3601, -71.0589, 0.7),
        ("Denver", 39.7392, -104.9903, 0.7), ("Miami", 25.7617, -80.1918, 0.45),
        ("Portland", 45.5152, -122.6784, 0.65), ("Atlanta", 33.7490, -84.3880, 0.5)]),
    "GB": (0.20, {"en": .70, "asian": .12, "pl": .06, "ar": .04, "fr": .03, "es": .03, "nordic": .02}, [
        ("London", 51.5074, -0.1278, 9.0), ("Manchester", 53.4808, -2.2426, 2.0),
        ("Birmingham", 52.4862, -1.8904, 1.1), ("Glasgow", 55.8642, -4.2518, 0.63),
        ("Edinburgh", 55.9533, -3.1883, 0.53), ("Leeds", 53.8008, -1.5491, 0.8),
        ("Bristol", 51.4545, -2.5879, 0.47), ("Liverpool", 53.4084, -2.9916, 0.5),
        ("Brighton", 50.8225, -0.1372, 0.29), ("Cardiff", 51.4816, -3.1791, 0.36)]),
    "DE": (0.16, {"de": .72, "tr": .12, "pl": .06, "en": .04, "ar": .03, "nordic": .03}, [
        ("Berlin", 52.5200, 13.4050, 3.7), ("Hamburg", 53.5511, 9.9937, 1.9),
        ("München", 48.1351, 11.5820, 1.5), ("Köln", 50.9375, 6.9603, 1.1),
        ("Frankfurt am Main", 50.1109, 8.6821, 0.76), ("Stuttgart", 48.7758, 9.1829, 0.63),
        ("Düsseldorf", 51.2277, 6.7735, 0.62), ("Leipzig", 51.3397, 12.3731, 0.6),
        ("Dresden", 51.0504, 13.7373, 0.55)]),
    "FR": (0.13, {"fr": .72, "ar": .14, "es": .05, "en": .04, "de": .03, "pl": .02}, [
        ("Paris", 48.8566, 2.3522, 6.0), ("Marseille", 43.2965, 5.3698, 0.87),
        ("Lyon", 45.7640, 4.8357, 1.5), ("Toulouse", 43.6047, 1.4442, 0.5),
        ("Nice", 43.7102, 7.2620, 0.34), ("Nantes", 47.2184, -1.5536, 0.32),
        ("Bordeaux", 44.8378, -0.5792, 0.26), ("Lille", 50.6292, 3.0573, 0.23),
        ("Montpellier", 43.6108, 3.8767, 0.3), ("Strasbourg", 48.5734, 7.7521, 0.28)]),
    "ES": (0.10, {"es": .82, "fr": .05, "en": .05, "ar": .05, "de": .03}, [
        ("Madrid", 40.4168, -3.7038, 3.3), ("Barcelona", 41.3874, 2.1686, 1.6),
        ("Valencia", 39.4699, -0.3763, 0.8), ("Sevilla", 37.3891, -5.9845, 0.69),
        ("Zaragoza", 41.6488, -0.8891, 0.67), ("Málaga", 36.7213, -4.4214, 0.58),
        ("Bilbao", 43.2630, -2.9350, 0.35), ("Palma", 39.5696, 2.6502, 0.42),
        ("A Coruña", 43.3623, -8.4115, 0.25)]),
    "SE": (0.07, {"nordic": .78, "ar": .06, "en": .05, "de": .04, "tr": .03, "pl": .02, "es": .02}, [
        ("Stockholm", 59.3293, 18.0686, 1.6), ("Göteborg", 57.7089, 11.9746, 0.6),
        ("Malmö", 55.6050, 13.0038, 0.35), ("Uppsala", 59.8586, 17.6389, 0.24),
        ("Västerås", 59.6099, 16.5448, 0.13), ("Örebro", 59.2753, 15.2134, 0.13),
        ("Linköping", 58.4108, 15.6214, 0.11), ("Umeå", 63.8258, 20.2630, 0.09)]),
}

#: Reserved example domains only (RFC 2606), so no generated address can belong to anyone.
EMAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example.com",
                 "inbox.example.net", "post.example.org"]

# Phone numbers as users type them, per country ('#' is a random digit).
PHONE_FORMATS = {
    "US": ["+1 555 ### ####", "(555) ###-####", "+1-555-###-####"],
    "GB": ["+44 7700 900###", "07700 900###", "+44 (0)7700 900 ###"],
    "DE": ["+49 151 ########", "0151 ### ####", "+49 170 #######"],
    "FR": ["+33 6 ## ## ## ##", "06 ## ## ## ##", "+33 7 ## ## ## ##"],
    "ES": ["+34 6## ### ###", "6## ## ## ##", "+34 7## ### ###"],
    "SE": ["+46 70 ### ## ##", "070-### ## ##", "+46 73 ### ## ##"],
}

# ---------------------------------------------------------------- interests
# cluster -> (affinity to openness, conscientiousness, extraversion, agreeableness, neuroticism;
#             interests, most popular first)
INTEREST_CLUSTERS: dict[str, tuple[tuple[float, float, float, float, float], list[str]]] = {
    "mindful": ((.3, 0, -.1, .2, -.1), [
        "yoga", "meditation", "pilates", "mindfulness", "journaling", "breathwork", "tai chi",
        "spirituality", "astrology", "tarot", "wellness retreats"]),
    "outdoors": ((.3, .1, 0, .1, -.1), [
        "hiking", "photography", "camping", "rock climbing", "backpacking", "trail running",
        "bouldering", "kayaking", "birdwatching", "fishing", "mountaineering", "stargazing",
        "foraging"]),
    "fitness": ((0, .4, .1, 0, -.1), [
        "running", "gym", "cycling", "swimming", "crossfit", "weightlifting", "boxing",
        "martial arts", "marathons", "triathlon", "calisthenics", "spinning"]),
    "sports": ((-.1, .1, .3, 0, 0), [
        "football", "tennis", "basketball", "golf", "padel", "volleyball", "rugby", "cricket",
        "baseball", "ice hockey", "table tennis", "badminton", "american football"]),
    "food": ((.2, 0, .2, .1, 0), [
        "cooking", "coffee", "baking", "wine tasting", "brunch", "craft beer", "street food",
        "sushi", "cocktails", "barbecue", "café hopping", "fine dining", "farmers markets",
        "fermentation", "fika"]),
    "music": ((.2, 0, .2, 0, 0), [
        "live music", "concerts", "music festivals", "guitar", "jazz", "techno", "indie rock",
        "hip hop", "piano", "singing", "classical music", "vinyl records", "k-pop", "songwriting",
        "opera"]),
    "arts": ((.5, 0, 0, .1, .1), [
        "museums", "painting", "drawing", "art galleries", "pottery", "street art", "knitting",
        "sculpture", "crochet", "sewing", "embroidery", "calligraphy", "printmaking"]),
    "games": ((.1, -.1, -.2, 0, .1), [
        "video games", "board games", "anime", "puzzles", "chess", "tabletop rpgs",
        "dungeons and dragons", "manga", "comics", "escape rooms", "cosplay", "esports",
        "retro gaming"]),
    "tech": ((.3, .2, -.1, 0, 0), [
        "science", "programming", "gadgets", "astronomy", "artificial intelligence", "robotics",
        "3d printing", "electronics", "open source", "space exploration"]),
    "books": ((.5, .1, -.2, .1, .1), [
        "reading", "podcasts", "history", "documentaries", "philosophy", "poetry",
        "creative writing", "learning languages", "book clubs", "fantasy novels", "crosswords",
        "science fiction"]),
    "screen": ((0, -.1, -.1, 0, .1), [
        "movies", "tv series", "cinema", "stand-up comedy", "theater", "true crime",
        "horror movies", "musicals", "indie films", "k-dramas", "sitcoms"]),
    "travel": ((.4, 0, .2, 0, -.1), [
        "travel", "road trips", "beaches", "city breaks", "skiing", "surfing", "scuba diving",
        "snowboarding", "sailing", "van life", "interrailing", "island hopping"]),
    "nightlife": ((.1, -.2, .5, 0, 0), [
        "dancing", "karaoke", "bars", "clubbing", "pub quizzes", "salsa", "house parties",
        "bachata", "drag shows", "swing dancing"]),
    "home": ((0, .3, 0, .1, 0), [
        "gardening", "fashion", "interior design", "houseplants", "diy", "thrifting", "skincare",
        "makeup", "vintage fashion", "woodworking", "home improvement", "upcycling"]),
    "animals": ((0, 0, 0, .4, 0), [
        "dogs", "cats", "horse riding", "animal rescue", "wildlife", "aquariums", "reptiles",
        "beekeeping"]),
    "causes": ((.3, 0, .1, .3, 0), [
        "volunteering", "sustainability", "politics", "veganism", "climate action", "activism",
        "zero waste", "human rights", "mentoring", "community gardening"]),
    "family": ((-.2, .2, 0, .2, 0), [
        "family time", "cozy nights in", "dinner parties", "picnics", "church", "faith",
        "parenting", "genealogy"]),
    "motors": ((-.1, 0, .1, -.1, 0), [
        "cars", "formula 1", "motorcycles", "classic cars", "karting", "car shows"]),
    "career": ((0, .4, .2, 0, 0), [
        "investing", "entrepreneurship", "startups", "personal finance", "public speaking",
        "productivity", "marketing", "networking"]),
}

# ---------------------------------------------------------------- free text
OCCUPATIONS = [
    "Nurse", "Software developer", "Teacher", "Graphic designer", "Barista", "Architect",
    "PhD student", "Paramedic", "Accountant", "Chef", "Physiotherapist", "Marketing manager",
    "Carpenter", "Lawyer", "Data analyst", "Social worker", "Musician", "Electrician",
    "Pharmacist", "Journalist", "Vet", "Firefighter", "UX researcher", "Translator",
]
BIO_INTEREST_LINES = [
    "Big fan of {a} and {b}.", "My happy place: {a}.", "Weekends are for {a} and {b}.",
    "Currently obsessed with {a}.", "Ask me about {a}!", "Into {a}, {b} and {c}.",
    "Looking for someone who enjoys {a} as much as I do.", "{A}, {b}, repeat.",
    "Will talk your ear off about {a}.", "Friends say I never shut up about {a}.",
    "Can't live without {a}.", "Part-time {a} nerd, full-time {b} lover.",
]
BIO_ABOUT_LINES = [
    "{occ} by day, amateur chef by night.", "{occ} in {city}.", "{occ}, dog person, terrible at karaoke.",
    "Born and raised in {city}.", "Just moved to {city} and looking to explore.",
    "{occ} who would rather be outside.", "Recovering perfectionist.", "Coffee first, then conversation ☕",
    "Half plant, half human 🌿", "Not great at bios, better in person.",
]
BIO_LOOKING_LINES = [
    "Looking for something real.", "Here for good conversation and maybe more.",
    "Let's grab a coffee and see where it goes.", "Not here for hookups.",
    "Looking for my partner in crime.", "Swipe right if you have a good book recommendation.",
    "Kind people only, please.", "Let's skip the small talk.",
]
BIO_EXTRAVERT = ["Always up for meeting new people!", "Life of the party, or at least trying."]
BIO_INTROVERT = ["Introvert, but I'll warm up over a good conversation.", "Quiet nights in > loud bars."]
BIO_LOCAL = {
    "de": ["Ich liebe lange Spaziergänge und gutes Essen.", "Auf der Suche nach etwas Echtem."],
    "fr": ["J'adore la randonnée et les cafés en terrasse.", "À la recherche de quelqu'un de drôle."],
    "es": ["Me encanta viajar y la buena comida.", "Buscando a alguien con quien reír."],
    "nordic": ["Älskar fika och långa promenader.", "Söker någon att dela äventyr med."],
    "tr": ["Kahve ve kitap aşığı.", "Yeni maceralara hazırım."],
}
BIO_CONTACT_EMAIL = ["Write me at {email}", "Mail me: {email}", "Not on here much, email {email}",
                     "{email} if you want to chat"]
BIO_CONTACT_PHONE = ["Text me {phone}", "WhatsApp: {phone}", "Call me maybe? {phone}", "Tel {phone}"]

POST_TEMPLATES = [
    "Spent the whole weekend on {a}. {tags}",
    "Anyone up for {a} this {day}? {city} people, let me know! {tags}",
    "Best {a} spot in {city}? Asking for a friend.",
    "Just spent three hours on {a}, feeling {feel}. {tags}",
    "Hot take: {a} is better than {b}. Fight me. {tags}",
    "New to {city}, looking for people into {a} and {b}. {tags}",
    "{A} with friends tonight, then maybe some {b}. {tags}",
    "Three years of {a} and I still learn something new every time. {tags}",
    "Tried {a} for the first time today and honestly loved it {tags}",
    "Rainy {day} = {a} and tea. {tags}",
    "My therapist says {a} counts as self care. {tags}",
    "{tags} Sunrise, coffee and {a}. Perfect start.",
    "Who else thinks {a} and {b} go perfectly together? {tags}",
    "Recommendations for beginner {a} gear? Budget is tight.",
    "Finally made time for {a} again after months! {tags}",
]
POST_PLAIN = [
    "Good morning everyone! ☀️", "What's everyone doing this {day}?", "Long week. Need a nap.",
    "Who wants to grab a drink in {city} tonight?", "Grateful for good friends and good food today.",
    "First date tips? Asking for me.", "That feeling when the weekend finally arrives 🎉",
]
EXTRA_TAGS = ["#weekendvibes", "#tbt", "#mondaymotivation", "#selfcare", "#goodvibes", "#nofilter",
              "#café", "#fika", "#été", "#Straße", "#smörgåsbord", "#jalapeño", "#crème", "#niño",
              "#über", "#fête", "#MoodOfTheDay", "#2026goals"]
DAYS = ["Saturday", "Sunday", "Friday night", "weekend", "Monday", "evening", "morning"]
FEELINGS = ["great", "exhausted but happy", "unstoppable", "so relaxed", "proud", "sore", "alive"]
COMMENT_TEMPLATES = [
    "So jealous!", "Where is this?", "Count me in!", "😂 love it", "Same here!", "This is the way.",
    "Looks amazing!", "Need details please", "Haha, so true", "I'm in for {a}!",
    "Great pic!", "Been meaning to try {a}, any tips?", "Totally agree.", "Not sure about that one 🤔",
    "We should go together sometime", "Ahh I miss {a} so much", "❤️❤️❤️", "Saving this for later",
]
