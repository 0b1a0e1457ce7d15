# SPDX-License-Identifier: AGPL-3.0-or-later
"""Built-in, deterministic training text for the test tokenizers.

Photo-search flavoured English (what Immich users type), plus a multilingual slice for the XLM-R tokenizer, plus
digits, punctuation and emoji so byte-level and unknown-character paths are exercised. Sentences are drawn with a
fixed seed so the corpus (and hence every merge and score) is identical on every run.
"""

from __future__ import annotations

import random

# Ordered roughly by how often people search for them: earlier words get repeated more and merge first.
ENGLISH_WORDS = """
a the of and in on with at to for from by is are was were be it this that there here my our your his her their
photo picture image pic selfie portrait shot view scene close up closeup of
dog dogs cat cats puppy kitten bird birds horse horses cow cows sheep goat pig chicken duck ducks fish
person people man men woman women child children kid kids baby babies boy boys girl girls family friends couple
beach sea ocean lake river mountain mountains hill hills forest tree trees flower flowers garden park field grass
sky cloud clouds sun sunset sunrise moon star stars night day morning evening rain snow fog storm rainbow
city street road bridge building buildings house home tower church castle skyline car cars bus train bike bicycle
boat ship plane airplane airport station
red blue green yellow orange purple pink brown black white gray grey gold silver colorful dark bright
birthday party wedding christmas holiday vacation trip travel trips concert festival game match graduation dinner
food cake pizza burger pasta salad bread coffee tea wine beer fruit apple apples banana oranges lemon limes
pineapple chocolate ice cream breakfast lunch restaurant kitchen table plate cup glass bottle
happy smiling smile laughing sad running walking sitting standing playing swimming eating drinking sleeping
reading jumping dancing riding driving flying cooking climbing hiking skiing surfing fishing camping
big small little large tall old new young beautiful pretty cute funny old modern ancient wooden stone glass
water fire ice sand snowy rainy sunny cloudy windy foggy wet dry hot cold warm
winter summer spring autumn fall january february march april may june july august september october november
december monday tuesday wednesday thursday friday saturday sunday week weekend year today yesterday
room bedroom bathroom living office school classroom library museum hospital shop store market mall
window door wall floor roof stairs chair sofa couch bed lamp light lights candle candles tv television computer
phone laptop screen keyboard camera book books paper letter sign text note notes map menu ticket receipt
shirt dress hat glasses sunglasses shoes jacket coat uniform costume mask
face faces eyes hair hand hands head feet body arm legs
mother father mom dad sister brother grandma grandpa grandmother grandfather son daughter aunt uncle cousin
teacher student doctor player team crowd audience band singer
soccer football basketball baseball tennis golf running race swimming pool gym yoga
animal animals pet pets wildlife zoo farm insect butterfly bee spider snake turtle frog lion tiger bear elephant
giraffe zebra monkey deer fox wolf rabbit squirrel owl eagle falcon parrot penguin whale dolphin shark
rock rocks cliff cave desert island waterfall valley canyon volcano glacier aurora lights northern
palm palms plant plants leaf leaves cactus rose roses tulip daisy sunflower moss mushroom
toy toys ball balloon balloons gift gifts present presents cake candles fireworks flag
painting art drawing statue sculpture graffiti mural poster
night sky milky way city lights street lamp neon
document documents screenshot receipt invoice passport card cards chart graph diagram whiteboard
white background black and white blurry dark photo old photo vintage film
one two three four five six seven eight nine ten hundred thousand first second third last next many some all
not no yes very more most less few other same different another each every both only just also too
go going went see seeing saw look looking take taking took make making made have has had do does did get got
who what where when why how which while before after during under over above below between near behind inside
outside around through into onto off out down up back front left right top bottom middle center side
mirror clock watch ring necklace bag backpack umbrella suitcase tent blanket pillow towel
fence gate path trail tunnel harbour harbor port pier lighthouse dock marina village town countryside farmhouse barn
apartment hotel cafe bar pub bakery church temple mosque cathedral palace monument fountain square plaza
highway traffic crossing sidewalk parking garage truck van motorcycle scooter tram subway taxi helicopter rocket
guitar piano violin drum drums microphone music song stage speaker headphones
pumpkin halloween easter thanksgiving anniversary celebration ceremony reunion picnic barbecue
sandwich soup rice noodles sushi steak chicken eggs cheese butter milk juice cookie cookies pie donut candy
strawberry strawberries cherry grapes watermelon peach pear mango coconut tomato potato carrot onion pepper
sky blue turquoise beige cream violet magenta crimson navy olive
sleepy excited tired angry surprised proud calm quiet loud busy empty crowded peaceful famous favorite
sunshine shadow shadows reflection silhouette horizon landscape panorama macro bokeh hdr long exposure
mountainous rocky sandy grassy muddy frozen melting blooming shining glowing sparkling
kayak canoe sailboat yacht surfboard skateboard snowboard sled skis helmet
hamster parrot goldfish pony donkey camel kangaroo koala panda hedgehog raccoon otter seal swan goose
computer tablet watch drone printer robot
newborn toddler teenager adult elderly grandparents twins bride groom bridesmaid
beautiful gorgeous amazing wonderful lovely awesome incredible stunning
tree house treehouse sunflower field lavender fields vineyard orchard meadow prairie tundra jungle rainforest
wedding dress cake topper veil tuxedo bouquet confetti
kitchen counter fridge oven stove sink dishwasher microwave toaster kettle pan pot spoon fork knife bowl
bookshelf desk drawer cabinet carpet curtain curtains blinds ceiling chandelier fireplace balcony terrace porch
lawn hedge bush shrub vine ivy pond stream creek lagoon reef coral shell shells pebbles dunes
thunder lightning hail frost mist haze drizzle breeze tornado hurricane blizzard
sweater scarf gloves boots sandals jeans skirt suit tie pajamas hoodie
cousins neighbours neighbors colleagues classmates teammates strangers tourists visitors
laughing crying hugging kissing waving pointing clapping singing painting writing typing shopping
bright colours colors pastel vivid faded glossy matte shiny rusty dusty dirty clean messy tidy
""".split()
ENGLISH_WORDS = list(dict.fromkeys(ENGLISH_WORDS))  # keep first occurrence (frequency rank)

# Short captions typed the way people search; repeated so whole phrases and common words merge early.
CAPTIONS = [
    "a photo of a dog",
    "a photo of a cat",
    "a dog playing in the snow",
    "two cats sleeping on a sofa",
    "a child running on the beach",
    "sunset over the ocean",
    "sunrise in the mountains",
    "a red car parked on the street",
    "people dancing at a wedding party",
    "birthday cake with candles",
    "a bowl of fresh fruit on the table",
    "family picture at christmas",
    "my grandmother in the garden",
    "a selfie with friends at the concert",
    "the city skyline at night",
    "a bridge over the river",
    "snowy forest in winter",
    "a white horse in a green field",
    "a black and white photo of an old house",
    "kids playing football in the park",
    "a plate of pasta and a glass of wine",
    "coffee and breakfast in the kitchen",
    "flowers blooming in spring",
    "a boat on the lake",
    "a plane flying over the clouds",
    "the northern lights in the sky",
    "a screenshot of a document",
    "a receipt from the restaurant",
    "a man riding a bicycle",
    "a woman reading a book",
    "baby smiling at the camera",
    "dog wearing sunglasses",
    "a bird sitting on a tree",
    "hiking trip with the team",
    "a beach with palm trees",
    "the eiffel tower in paris",
    "new year fireworks 2024",
    "photos from summer vacation 2023",
    "test search query",
]

# Multilingual slice (XLM-R / SigLIP i18n flavour); also gives the byte-level BPE some non-ASCII merges.
MULTILINGUAL = [
    "ein hund spielt im schnee",
    "eine katze schläft auf dem sofa",
    "sonnenuntergang am strand mit freunden",
    "geburtstagskuchen mit kerzen",
    "un chien qui joue dans la neige",
    "un chat qui dort sur le canapé",
    "coucher de soleil sur la mer",
    "photo de famille à noël",
    "un perro jugando en la playa",
    "un gato durmiendo en el sofá",
    "puesta de sol en las montañas",
    "fiesta de cumpleaños con amigos",
    "un cane che gioca nella neve",
    "tramonto sul mare in estate",
    "um cachorro brincando na praia",
    "pôr do sol na praia com a família",
    "een hond die in de sneeuw speelt",
    "zonsondergang aan zee",
    "pies bawiący się w śniegu",
    "zachód słońca nad morzem",
    "собака играет в снегу",
    "кошка спит на диване",
    "закат над морем",
    "день рождения с друзьями",
    "σκύλος παίζει στο χιόνι",
    "ηλιοβασίλεμα στη θάλασσα",
    "köpek karda oynuyor",
    "deniz kenarında gün batımı",
    "雪の中で遊ぶ犬",
    "ソファで寝ている猫",
    "海に沈む夕日",
    "在雪地里玩的狗",
    "沙发上睡觉的猫",
    "海边的日落",
    "눈 속에서 노는 개",
    "소파에서 자는 고양이",
    "바다 위의 일몰",
    "كلب يلعب في الثلج",
    "غروب الشمس على البحر",
    "बर्फ में खेलता कुत्ता",
    "समुद्र पर सूर्यास्त",
    "chó chơi trong tuyết",
    "hoàng hôn trên biển",
    "สุนัขเล่นในหิมะ",
    "כלב משחק בשלג",
]

MISC = [
    "IMG_2041.JPG", "DSC00123.jpg", "2023-08-14 12:30", "10:45 pm", "$19.99", "100%", "#tbt", "@home",
    "e-mail: test@example.com", "https://immich.app", "C++ and Python", "3.14159", "1/2 cup of sugar",
    "it's a dog's life", "they're here", "we've been there", "I'll go", "you'd like it", "I'm happy",
    "😀 😂 🐶 🐱 🌅 🎂 ❤️", "café naïve résumé jalapeño façade", "Ångström Øresund Straße",
    "ALL CAPS TEXT", "MiXeD cAsE", "tabs\tand\nnewlines   and   spaces", "...!!!???", "(brackets) [square] {curly}",
]


def english_corpus(n_sentences: int = 3000, seed: int = 20240601) -> list[str]:
    """Captions + misc + random word sequences biased towards the head of ENGLISH_WORDS."""
    rng = random.Random(seed)
    n = len(ENGLISH_WORDS)
    # Zipf-like weights: frequent words recur, every word appears at least a few times.
    weights = [1.0 / (i + 10) for i in range(n)]
    # Capitalised copies give the cased (SentencePiece) vocabularies their upper-case pieces.
    lines = CAPTIONS * 40 + [c.capitalize() for c in CAPTIONS] * 5 + [c.title() for c in CAPTIONS] * 2 + MISC * 5
    lines += [" ".join(ENGLISH_WORDS)] * 3
    for _ in range(n_sentences):
        lines.append(" ".join(rng.choices(ENGLISH_WORDS, weights, k=rng.randint(3, 12))))
    return lines


def multilingual_corpus(seed: int = 20240602) -> list[str]:
    rng = random.Random(seed)
    lines = english_corpus(1500, seed) + MULTILINGUAL * 30 + [m.capitalize() for m in MULTILINGUAL] * 5
    words = " ".join(MULTILINGUAL).split()
    for _ in range(1500):
        lines.append(" ".join(rng.choices(words, k=rng.randint(3, 10))))
    return lines
