"""The sandbox's deterministic world: businesses, brand accounts, creators, tokens and content items.

`build_world(seed, items)` returns the same world for the same arguments (dates are counted back from
`today`, which defaults to the current UTC date). The world itself is immutable; everything that changes at
run time (ad codes, minted tokens, rate-limit windows) lives in `state.py` and is reset from the world.

Besides the generated businesses the world always holds the seed document's own example business
(650157780891832) so that the seed's example requests return the seed's example responses.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import random
import string
from dataclasses import dataclass, field

INSTAGRAM = "INSTAGRAM"
FACEBOOK = "FACEBOOK"
PLATFORMS = (INSTAGRAM, FACEBOOK)
MEDIA_TYPES = ("IMAGE", "VIDEO", "CAROUSEL", "LINK")
POST_TYPES = ("FEED", "STORY", "REEL")
CONTENT_TYPES = ("BRANDED_CONTENT", "PRODUCT", "AFFILIATE", "COLLAB_POST", "TAGGED", "REPOSTED")
AD_ELIGIBILITIES = ("AD_READY", "INELIGIBLE", "NEEDS_ATTENTION", "EXCLUDED")
AD_USAGES = ("NEVER_USED", "ACTIVE", "PREVIOUSLY_USED")
SORT_BY = ("RECOMMENDED", "DATE")
# The seed documents neither enum; these are the sandbox's choice (see the README).
PERMISSION_STATUSES = ("APPROVED", "PENDING", "NOT_REQUESTED", "DECLINED")
PERMISSION_TYPES = ("PARTNERSHIP_AD_CODE", "ACCOUNT_LEVEL", "POST_LEVEL")
INSIGHT_METRICS = ("likes", "comments", "views", "reach", "shares", "interaction", "saves")

BRAND_SCOPES = (
    "business_management",
    "instagram_basic",
    "instagram_branded_content_ads_brand",
    "facebook_branded_content_ads_brand",
    "instagram_branded_content_creator",
    "ads_management",
    "ads_read",
)
# The Marketing API scopes of a brand token: ads_management to create creatives and ads, ads_read to read.
ADS_SCOPES = ("ads_management", "ads_read")
CREATOR_SCOPES = ("instagram_basic", "business_management", "instagram_branded_content_creator")

DEFAULT_APP_ID = "1029384756647382"
EXAMPLE_BUSINESS_ID = "650157780891832"
EXAMPLE_IG_USER_ID = "26702275725799"

_BRAND_NAMES = (
    "Lumen Apparel",
    "Nordkap Outdoor",
    "Café Olé Roasters",
    "Sakura Skincare",
    "Grünwald Bikes",
    "Maré Swimwear",
    "Atlas Running Co",
    "Fjällräv Home",
)
_CREATOR_NAMES = (
    "StyleByAna",
    "joão.travels",
    "MiaMakes",
    "kenji_eats",
    "Zoë_Fit",
    "lars.outdoors",
    "NadiaGlow",
    "chef_renée",
    "TomásRuns",
    "priya.reads",
    "Élodie_Paris",
    "sam.skates",
    "Aylin_Cooks",
    "björn_builds",
    "LenaLoops",
    "mateo.surf",
    "Yuki_Draws",
    "OmarLifts",
    "ingrid.knits",
    "Dara_Dance",
)
_COUNTRIES = ("US", "GB", "BR", "DE", "FR", "JP", "IN", "ES", "MX", "SE", "CA", "AU", "TR", "NG")
_CAPTION_WORDS = (
    "summer",
    "collection",
    "sunrise",
    "coffee",
    "trail",
    "weekend",
    "unboxing",
    "tutorial",
    "giveaway",
    "morning",
    "routine",
    "beach",
    "café",
    "crème",
    "Grüße",
    "niño",
    "東京",
    "straße",
    "glow",
    "launch",
    "recipe",
    "workout",
    "vintage",
    "festival",
)
_EMOJI = ("🌞", "🔥", "✨", "☕", "🏔️", "💪", "🎉", "")
_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Account:
    """An identity as Meta shows it in `author` and `tagged_partner`: an IG account and/or a Facebook Page."""

    display_name: str
    ig_user_id: str | None
    fb_page_id: str | None
    profile_picture_url: str
    country: str


@dataclass(frozen=True, slots=True)
class BrandPair:
    """A brand's Facebook Page and the Instagram account linked to it (either may stand alone)."""

    fb_page_id: str | None
    ig_user_id: str | None
    page_identity: Account | None
    ig_identity: Account | None


@dataclass(slots=True)
class Business:
    """A Meta business with its brand accounts; `pairs[0]` is the default brand pair."""

    business_id: str
    name: str
    pairs: list[BrandPair]
    # Pages or IG accounts that belong to the business but are linked to nothing.
    unlinked_page_ids: list[str] = field(default_factory=list)
    example: bool = False
    # The business's ad accounts (``act_<digits>``), in the order `owned_ad_accounts` lists them.
    ad_account_ids: list[str] = field(default_factory=list)

    def page_ids(self) -> set[str]:
        """Every Facebook Page of the business, linked or not."""
        return {p.fb_page_id for p in self.pairs if p.fb_page_id} | set(self.unlinked_page_ids)

    def ig_user_ids(self) -> set[str]:
        """Every Instagram account of the business."""
        return {p.ig_user_id for p in self.pairs if p.ig_user_id}


@dataclass(frozen=True, slots=True)
class PartnerEntry:
    """One `partnership_info` entry: the item as seen by one tagged partner (a brand pair)."""

    business_id: str
    pair_key: str
    tagged_partner: Account
    ad_eligibility: str
    permission_status: str
    permission_type: str
    content_types: tuple[str, ...]


@dataclass(slots=True)
class Item:
    """One piece of advertisable content: an Instagram media or a Facebook post."""

    content_id: str
    platform: str
    media_type: str
    post_type: str
    caption: str
    caption_fold: str
    permalink: str
    creation_time: str
    author: Account
    is_recommended: bool
    score: float
    ad_usage: str
    entries: tuple[PartnerEntry, ...]
    insights: tuple[int | None, ...]
    seeded_ad_code: str | None = None


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign of an ad account (the world's; campaigns are not created at run time)."""

    campaign_id: str
    name: str
    objective: str
    status: str


@dataclass(frozen=True, slots=True)
class AdSet:
    """An ad set of a campaign: where the pipeline's ads are created."""

    adset_id: str
    name: str
    campaign_id: str
    status: str


@dataclass(frozen=True, slots=True)
class AdAccount:
    """An ad account owned by a business, with its campaigns and ad sets."""

    account_id: str  # digits only; the Graph id is ``act_<account_id>``
    business_id: str
    name: str
    currency: str
    timezone_name: str
    campaigns: tuple[Campaign, ...]
    adsets: tuple[AdSet, ...]

    @property
    def id(self) -> str:
        return f"act_{self.account_id}"


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An access token the sandbox accepts. `expires_at` is a unix time or None (never expires)."""

    access_token: str
    role: str
    scopes: tuple[str, ...]
    business_id: str | None
    fb_page_id: str | None
    ig_user_id: str | None
    app_id: str = DEFAULT_APP_ID
    expires_at: float | None = None
    label: str = ""
    minted: bool = False

    def public(self) -> dict[str, object]:
        return {
            "access_token": self.access_token,
            "role": self.role,
            "scopes": list(self.scopes),
            "business_id": self.business_id,
            "fb_page_id": self.fb_page_id,
            "ig_user_id": self.ig_user_id,
            "app_id": self.app_id,
            "expires_at": self.expires_at,
            "label": self.label,
            "minted": self.minted,
        }


@dataclass(slots=True)
class World:
    """Everything generated from one seed. Indexes are built once; queries only slice and scan them."""

    seed: int
    today: dt.date
    businesses: dict[str, Business]
    creators: list[Account]
    items: list[Item]
    tokens: list[TokenRecord]
    by_id: dict[str, Item] = field(default_factory=dict)
    by_permalink: dict[str, Item] = field(default_factory=dict)
    # pair_key -> item indexes in RECOMMENDED / DATE order
    recommended_index: dict[str, list[int]] = field(default_factory=dict)
    date_index: dict[str, list[int]] = field(default_factory=dict)
    # account id (page or IG) -> (business_id, pair) it belongs to
    pair_of_account: dict[str, tuple[str, BrandPair]] = field(default_factory=dict)
    # IG user id / page id -> identity
    accounts: dict[str, Account] = field(default_factory=dict)
    # "act_<digits>" -> ad account; ad set id -> (account id, ad set)
    ad_accounts: dict[str, AdAccount] = field(default_factory=dict)
    adsets: dict[str, tuple[str, AdSet]] = field(default_factory=dict)


def pair_key(pair: BrandPair) -> str:
    """A stable key for a brand pair (used by indexes and cursor fingerprints)."""
    return f"{pair.fb_page_id or '-'}:{pair.ig_user_id or '-'}"


def make_token(rng: random.Random, kind: str) -> str:
    """A realistic-looking but obviously fake user access token (`EAAB...sandbox...`)."""
    head = "".join(rng.choice(_ALNUM) for _ in range(36))
    tail = "".join(rng.choice(_ALNUM) for _ in range(48))
    return f"EAAB{head}sandbox{kind}{tail}ZDZD"


def make_ad_code(seed: int, media_id: str, serial: int) -> str:
    """A deterministic, realistic-looking partnership ad code for one media and issue number."""
    digest = hashlib.sha256(f"ad_code:{seed}:{media_id}:{serial}".encode()).digest()
    return "AQ" + base64.urlsafe_b64encode(digest + digest[:12]).decode().rstrip("=")


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randrange(10 ** (n - 1), 10**n))


def _picture(account_id: str) -> str:
    return f"https://scontent.sandbox.invalid/v/t51/{account_id}_profile.jpg"


def _caption(rng: random.Random, brand_names: list[str]) -> str:
    words = rng.sample(_CAPTION_WORDS, k=rng.randint(3, 7))
    tag = rng.choice(brand_names).replace(" ", "")
    return f"{' '.join(words).capitalize()} with @{tag} {rng.choice(_EMOJI)} #ad".replace("  ", " ")


def build_world(
    seed: int = 7, items: int = 500, today: dt.date | None = None, creators: int | None = None
) -> World:
    """Generate the world for `seed`: 3 businesses, 12+ creators, `items` items (plus examples).

    `creators` fixes the number of creators (default: one per 40 items, between 12 and 400); the benchmarks
    use it to issue the same number of codes from fewer creator accounts.
    """
    rng = random.Random(seed)
    today = today or dt.datetime.now(dt.UTC).date()
    businesses: dict[str, Business] = {}
    brand_pairs: list[tuple[Business, BrandPair]] = []
    names = rng.sample(_BRAND_NAMES, k=3)
    used_ids: set[str] = set()

    def new_id(n: int, prefix: str = "") -> str:
        while True:
            value = prefix + _digits(rng, n - len(prefix)) if prefix else _digits(rng, n)
            if value not in used_ids:
                used_ids.add(value)
                return value

    for name in names:
        business_id = new_id(15)
        page_id = new_id(15, "10")
        ig_user_id = new_id(17, "178414")
        username = name.lower().replace(" ", "").replace("é", "e").replace("ü", "u").replace("ä", "a")
        page_identity = Account(name, ig_user_id, page_id, _picture(page_id), "US")
        ig_identity = Account(username, ig_user_id, page_id, _picture(ig_user_id), "US")
        pair = BrandPair(page_id, ig_user_id, page_identity, ig_identity)
        business = Business(business_id, name, [pair], unlinked_page_ids=[new_id(15, "10")])
        businesses[business_id] = business
        brand_pairs.append((business, pair))

    creator_count = creators if creators is not None else max(12, min(items // 40, 400))
    if creator_count < 1:
        raise ValueError(f"creators must be at least 1, got {creator_count}")
    creators: list[Account] = []
    for index in range(creator_count):
        base = _CREATOR_NAMES[index % len(_CREATOR_NAMES)]
        username = base if index < len(_CREATOR_NAMES) else f"{base}{index // len(_CREATOR_NAMES)}"
        ig_user_id = new_id(17, "178414")
        page_id = new_id(15, "10") if index % 10 < 7 else None
        creators.append(Account(username, ig_user_id, page_id, _picture(ig_user_id), rng.choice(_COUNTRIES)))

    brand_name_list = [b.name for b in businesses.values()]
    generated: list[Item] = []
    media_serial = 0
    for _ in range(items):
        media_serial += 1
        brand_authored = rng.random() < 0.08
        if brand_authored:
            owner_business, owner_pair = rng.choice(brand_pairs)
            platform = INSTAGRAM if rng.random() < 0.75 else FACEBOOK
            author = owner_pair.ig_identity if platform == INSTAGRAM else owner_pair.page_identity
            assert author is not None
            tagged = [(owner_business, owner_pair)]
        else:
            creator = rng.choice(creators)
            platform = FACEBOOK if creator.fb_page_id and rng.random() < 0.3 else INSTAGRAM
            author = creator
            roll = rng.random()
            n_partners = 1 if roll < 0.75 else 2 if roll < 0.95 else 3
            tagged = rng.sample(brand_pairs, k=n_partners)
        if platform == INSTAGRAM:
            post_type = rng.choices(POST_TYPES, weights=(6, 2, 3))[0]
            media_type = (
                "VIDEO"
                if post_type == "REEL"
                else rng.choice(("IMAGE", "VIDEO"))
                if post_type == "STORY"
                else rng.choices(("IMAGE", "VIDEO", "CAROUSEL"), weights=(5, 2, 3))[0]
            )
            content_id = f"178{media_serial:05d}{_digits(rng, 9)}"
            shortcode = base64.urlsafe_b64encode(rng.randbytes(8)).decode()[:11]
            path = {"REEL": "reel", "FEED": "p"}.get(post_type)
            permalink = (
                f"https://www.instagram.com/{path}/{shortcode}/"
                if path
                else f"https://www.instagram.com/stories/{author.display_name}/{content_id}/"
            )
        else:
            post_type = rng.choices(POST_TYPES, weights=(7, 1, 2))[0]
            media_type = (
                "VIDEO"
                if post_type == "REEL"
                else rng.choices(("IMAGE", "VIDEO", "CAROUSEL", "LINK"), weights=(4, 2, 2, 2))[0]
            )
            post_id = f"{media_serial:05d}{_digits(rng, 10)}"
            content_id = f"{author.fb_page_id}_{post_id}"
            permalink = f"https://www.facebook.com/{author.fb_page_id}/posts/{post_id}/"
        has_code = platform == INSTAGRAM and rng.random() < 0.15
        entries = []
        for business, pair in tagged:
            identity = pair.ig_identity if platform == INSTAGRAM else pair.page_identity
            assert identity is not None
            eligibility = rng.choices(AD_ELIGIBILITIES, weights=(55, 15, 15, 15))[0]
            if has_code:
                status, ptype = "APPROVED", "PARTNERSHIP_AD_CODE"
            else:
                status = rng.choices(PERMISSION_STATUSES, weights=(3, 3, 5, 1))[0]
                ptype = rng.choice(PERMISSION_TYPES[1:])
            ctypes = tuple(sorted(rng.sample(CONTENT_TYPES, k=rng.randint(1, 2))))
            entries.append(
                PartnerEntry(
                    business.business_id, pair_key(pair), identity, eligibility, status, ptype, ctypes
                )
            )
        rng.shuffle(entries)
        caption = _caption(rng, brand_name_list)
        day = today - dt.timedelta(days=rng.randint(0, 729))
        big = rng.random() < 0.1
        reach = int(rng.paretovariate(1.3) * (20000 if big else 800))
        insights = [
            int(reach * rng.uniform(0.03, 0.12)),
            int(reach * rng.uniform(0.001, 0.01)),
            int(reach * rng.uniform(1.1, 3.0)) if media_type == "VIDEO" or post_type != "FEED" else None,
            reach,
            int(reach * rng.uniform(0.0, 0.02)),
            0,
            int(reach * rng.uniform(0.0, 0.03)) if platform == INSTAGRAM else None,
        ]
        for m in range(len(insights)):
            if rng.random() < 0.06:
                insights[m] = None
        known = [v for i, v in enumerate(insights) if i in (0, 1, 4, 6) and v is not None]
        insights[5] = sum(known) if insights[5] is not None else None
        score = rng.random()
        generated.append(
            Item(
                content_id=content_id,
                platform=platform,
                media_type=media_type,
                post_type=post_type,
                caption=caption,
                caption_fold=caption.casefold(),
                permalink=permalink,
                creation_time=day.isoformat(),
                author=author,
                is_recommended=score > 0.75,
                score=score,
                ad_usage=rng.choices(AD_USAGES, weights=(6, 1.5, 2.5))[0],
                entries=tuple(entries),
                insights=tuple(insights),
                seeded_ad_code=make_ad_code(seed, content_id, 0) if has_code else None,
            )
        )

    _add_seed_examples(businesses, generated)

    token_rng = random.Random(f"tokens:{seed}")
    tokens: list[TokenRecord] = []
    for business in businesses.values():
        pair = business.pairs[0]
        tokens.append(
            TokenRecord(
                make_token(token_rng, "Brand"),
                "brand",
                BRAND_SCOPES,
                business.business_id,
                pair.fb_page_id,
                pair.ig_user_id,
                label=f"brand: {business.name}" + (" (seed example)" if business.example else ""),
            )
        )
    for creator in creators:
        tokens.append(
            TokenRecord(
                make_token(token_rng, "Creator"),
                "creator",
                CREATOR_SCOPES,
                None,
                creator.fb_page_id,
                creator.ig_user_id,
                label=f"creator: {creator.display_name}",
            )
        )
    world = World(seed, today, businesses, creators, generated, tokens)
    _index(world)
    _add_ad_accounts(world)
    return world


_ACCOUNT_KINDS = (("Main", "USD", "America/Los_Angeles"), ("Partnerships EU", "EUR", "Europe/Berlin"))
_OBJECTIVES = ("OUTCOME_ENGAGEMENT", "OUTCOME_AWARENESS")


def _add_ad_accounts(world: World) -> None:
    """Two ad accounts per business, each with two campaigns of two ad sets (the first ad set ACTIVE).

    A generator of its own (``ads:<seed>``), so that adding accounts never changes the rest of the world.
    """
    rng = random.Random(f"ads:{world.seed}")
    used: set[str] = set()

    def new_id(n: int, prefix: str) -> str:
        while True:
            value = prefix + _digits(rng, n - len(prefix))
            if value not in used:
                used.add(value)
                return value

    for business in world.businesses.values():
        for kind, currency, timezone in _ACCOUNT_KINDS:
            account_id = new_id(16, "")
            campaigns: list[Campaign] = []
            adsets: list[AdSet] = []
            for c, objective in enumerate(_OBJECTIVES):
                campaign = Campaign(
                    new_id(18, "120"), f"{business.name} {kind} · {objective.title()}", objective, "ACTIVE"
                )
                campaigns.append(campaign)
                for a in range(2):
                    status = "ACTIVE" if c == 0 and a == 0 else "PAUSED"
                    adsets.append(
                        AdSet(
                            new_id(18, "120"),
                            f"{campaign.name} · Partnership {a + 1}",
                            campaign.campaign_id,
                            status,
                        )
                    )
            account = AdAccount(
                account_id,
                business.business_id,
                f"{business.name} {kind}",
                currency,
                timezone,
                tuple(campaigns),
                tuple(adsets),
            )
            business.ad_account_ids.append(account.id)
            world.ad_accounts[account.id] = account
            for adset in adsets:
                world.adsets[adset.adset_id] = (account.id, adset)


def _add_seed_examples(businesses: dict[str, Business], items: list[Item]) -> None:
    """The seed document's example business and content, so its example requests give its example answers.

    Business 650157780891832 has two linked brand pairs: IG 26702275725799 (the pagination example: items
    111..555) and the "BrandPage" account (the field-expansion examples: item 17854360229135492).
    """
    page_a = Account(
        "Seed Example Brand", EXAMPLE_IG_USER_ID, "104881382290470", _picture("104881382290470"), "US"
    )
    ig_a = Account(
        "seedexamplebrand", EXAMPLE_IG_USER_ID, "104881382290470", _picture(EXAMPLE_IG_USER_ID), "US"
    )
    pair_a = BrandPair("104881382290470", EXAMPLE_IG_USER_ID, page_a, ig_a)
    page_b = Account("BrandPage", "17841400455970028", "104881382290471", _picture("104881382290471"), "US")
    ig_b = Account("BrandPage", "17841400455970028", "104881382290471", _picture("17841400455970028"), "US")
    pair_b = BrandPair("104881382290471", "17841400455970028", page_b, ig_b)
    businesses[EXAMPLE_BUSINESS_ID] = Business(
        EXAMPLE_BUSINESS_ID, "Seed Example Business", [pair_a, pair_b], example=True
    )
    ana = Account("StyleCreator_Ana", "1122334455", None, _picture("1122334455"), "BR")
    ben = Account("Ben's Kitchen", None, "1099887766", _picture("1099887766"), "GB")
    for n, cid in enumerate(("111", "222", "333", "444", "555")):
        platform = INSTAGRAM if n % 2 == 0 else FACEBOOK
        author = ana if platform == INSTAGRAM else ben
        tagged = ig_a if platform == INSTAGRAM else page_a
        items.append(
            Item(
                content_id=cid,
                platform=platform,
                media_type="IMAGE",
                post_type="FEED",
                caption=f"Seed example item {cid}",
                caption_fold=f"seed example item {cid}",
                permalink=(
                    f"https://www.instagram.com/p/SeedExample{cid}/"
                    if platform == INSTAGRAM
                    else f"https://www.facebook.com/1099887766/posts/{cid}/"
                ),
                creation_time=f"2025-06-{20 + n:02d}",
                author=author,
                is_recommended=True,
                score=10.0 - n,
                ad_usage="NEVER_USED",
                entries=(
                    PartnerEntry(
                        EXAMPLE_BUSINESS_ID,
                        pair_key(pair_a),
                        tagged,
                        "AD_READY",
                        "PENDING",
                        "POST_LEVEL",
                        ("BRANDED_CONTENT",),
                    ),
                ),
                insights=(100, 10, None, 1000, 5, 115, None),
            )
        )
    items.append(
        Item(
            content_id="17854360229135492",
            platform=INSTAGRAM,
            media_type="IMAGE",
            post_type="FEED",
            caption="Summer vibes with our new collection",
            caption_fold="summer vibes with our new collection",
            permalink="https://www.instagram.com/p/C8xSummerVb/",
            creation_time="2025-06-28",
            author=ana,
            is_recommended=True,
            score=10.0,
            ad_usage="NEVER_USED",
            entries=(
                PartnerEntry(
                    EXAMPLE_BUSINESS_ID,
                    pair_key(pair_b),
                    ig_b,
                    "AD_READY",
                    "PENDING",
                    "POST_LEVEL",
                    ("BRANDED_CONTENT",),
                ),
            ),
            insights=(15240, 312, 105000, 90000, 1200, 17052, 300),
        )
    )


def _index(world: World) -> None:
    for business in world.businesses.values():
        for pair in business.pairs:
            for account_id in (pair.fb_page_id, pair.ig_user_id):
                if account_id:
                    world.pair_of_account[account_id] = (business.business_id, pair)
            for identity in (pair.page_identity, pair.ig_identity):
                if identity is not None:
                    if identity.ig_user_id:
                        world.accounts.setdefault(identity.ig_user_id, identity)
                    if identity.fb_page_id:
                        world.accounts.setdefault(identity.fb_page_id, identity)
        for page_id in business.unlinked_page_ids:
            lone = BrandPair(
                page_id,
                None,
                Account(f"{business.name} Outlet", None, page_id, _picture(page_id), "US"),
                None,
            )
            world.pair_of_account[page_id] = (business.business_id, lone)
    by_pair: dict[str, list[int]] = {}
    for index, item in enumerate(world.items):
        world.by_id[item.content_id] = item
        world.by_permalink[item.permalink] = item
        for entry in item.entries:
            by_pair.setdefault(entry.pair_key, []).append(index)
    items = world.items
    for key, indexes in by_pair.items():
        world.recommended_index[key] = sorted(indexes, key=lambda i: (-items[i].score, items[i].content_id))
        world.date_index[key] = sorted(
            indexes, key=lambda i: (items[i].creation_time, items[i].content_id), reverse=True
        )
