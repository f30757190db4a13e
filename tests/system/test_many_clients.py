"""100 clients at once, each over its per-IP limit: every one gets exactly its own quota.

The seed's runs were one client, one request at a time. Here 100 distinct source addresses
(127.0.0.10 to 127.0.0.109) each fire 8 requests at once against a 5/minute per-IP limit, all 800
in flight together, over sluice's two workers. A race in the shared limiter shows as a client
admitted 4 or 6 times; keys mixed up between clients show as a client admitted 0 or 8 times.
"""

import asyncio
from collections import Counter

import aiohttp

ROUTES = """
routes:
  - name: headers
    path: /api/headers
    limits:
      - per: ip
        rate: 5/minute
"""

CLIENTS = [f"127.0.0.{i}" for i in range(10, 110)]
PER_CLIENT = 8
QUOTA = 5


async def client_burst(port: int, source: str) -> list[int]:
    """One client: PER_CLIENT concurrent requests, each on its own connection from `source`."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0), limit=PER_CLIENT, force_close=True)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one() -> int:
            async with session.get(f"http://127.0.0.1:{port}/api/headers") as resp:
                body = await resp.json()
                if resp.status == 200:
                    # The upstream sees this client's own address, not a neighbour's.
                    assert body["headers"]["x-forwarded-for"] == source, body
                return resp.status

        return list(await asyncio.gather(*(one() for _ in range(PER_CLIENT))))


async def all_clients(port: int) -> dict[str, list[int]]:
    results = await asyncio.wait_for(
        asyncio.gather(*(client_burst(port, source) for source in CLIENTS)), timeout=60)
    return dict(zip(CLIENTS, results))


def test_hundred_clients_each_get_exactly_their_quota(make_sluice):
    sluice = make_sluice(ROUTES)

    results = asyncio.run(all_clients(sluice.port))

    wrong = {source: Counter(statuses) for source, statuses in results.items()
             if Counter(statuses) != Counter({200: QUOTA, 429: PER_CLIENT - QUOTA})}
    assert not wrong, f"clients not admitted exactly {QUOTA} times: {wrong}"

    # The access log agrees: 5 admissions per client, 3 refusals, no other client names.
    entries = sluice.wait_access_entries(lambda e: e["route"] == "headers",
                                         len(CLIENTS) * PER_CLIENT)
    assert len(entries) == len(CLIENTS) * PER_CLIENT
    allowed = Counter(e["client"] for e in entries if e["decision"] == "allowed")
    assert allowed == Counter({source: QUOTA for source in CLIENTS})
