import type { Random } from "./random.ts";
import { companySectors, companyStems, firstNames, freemailDomains, lastNames, locales, type Locale } from "./vocabulary.ts";

/** A company somebody works for: its name, web domain and home country. */
export interface Company {
  name: string;
  domain: string;
  locale: Locale;
}

/** A generated person: the PII a lead-management product collects. */
export interface Person {
  first: string;
  last: string;
  fullName: string;
  /** Work email, derived from the name. */
  email: string;
  /** Absent for some people; written exactly as it appears everywhere else. */
  phone: string | undefined;
  locale: Locale;
}

export function pickLocale(rng: Random): Locale {
  return rng.weighted(locales);
}

export function makeCompany(rng: Random, locale: Locale = pickLocale(rng)): Company {
  const stem = rng.pick(companyStems);
  const sector = rng.pick(companySectors);
  const name = `${stem} ${sector} ${rng.pick(locale.legalSuffixes)}`;
  const slugStem = asciiSlug(stem);
  const slug = rng.weighted([
    [`${slugStem}${asciiSlug(sector)}`, 3],
    [`${slugStem}-${asciiSlug(sector)}`, 2],
    [`${slugStem}${asciiSlug(sector).slice(0, 4)}`, 1],
    [`get${slugStem}`, 1],
  ]);
  const tld = rng.weighted([
    [locale.tld, 3],
    ["com", 2],
    ["io", 1],
    ["co", 1],
  ]);
  return { name, domain: `${slug}.${tld}`, locale };
}

/**
 * A person in `locale` whose email is on `domain` (their employer's) or, when
 * no domain is given, at a mailbox provider.
 */
export function makePerson(rng: Random, options: { locale?: Locale; domain?: string; phoneChance?: number } = {}): Person {
  const locale = options.locale ?? pickLocale(rng);
  const first = rng.pick(firstNames);
  const last = rng.pick(lastNames);
  const domain = options.domain ?? rng.pick(freemailDomains);
  return {
    first,
    last,
    fullName: `${first} ${last}`,
    email: emailFor(rng, first, last, domain),
    phone: rng.chance(options.phoneChance ?? 0.88) ? phoneNumber(rng, locale) : undefined,
    locale,
  };
}

/** A mailbox derived from a name, in one of the shapes people really use. */
export function emailFor(rng: Random, first: string, last: string, domain: string): string {
  const f = asciiSlug(first);
  const l = asciiSlug(last);
  const local = rng.weighted([
    [`${f}.${l}`, 6],
    [`${f[0]}${l}`, 3],
    [`${f}_${l}`, 1],
    [`${f}${l}`, 1],
    [`${f}.${l}${rng.int(1, 99)}`, 2],
    [f, 1],
    [`${l}.${f}`, 1],
    [`${f[0]}.${l}`, 1],
  ]);
  return `${local}@${domain}`;
}

/** A private mailbox for the same person (the `Personal Email` custom field). */
export function personalEmail(rng: Random, person: Person): string {
  return emailFor(rng, person.first, person.last, rng.pick(freemailDomains));
}

/**
 * A phone number in one of the ways people type them for `locale`. Never in
 * the fictional 555-01xx range nor under +999: pseudonyms use those.
 */
export function phoneNumber(rng: Random, locale: Locale): string {
  switch (locale.country) {
    case "US":
    case "CA":
      return northAmericanPhone(rng, locale.country);
    case "GB": {
      const mobile = `7${rng.pick(["4", "5", "7", "8", "9"])}${rng.digits(2)}`;
      const rest = rng.digits(6);
      const london = `${rng.pick(["3", "7", "8"])}${rng.digits(3)} ${rng.digits(4)}`;
      return rng.weighted([
        [`+44 ${mobile} ${rest}`, 3],
        [`0${mobile} ${rest}`, 2],
        [`+44 20 ${london}`, 2],
        [`020 ${london}`, 1],
        [`+44 (0)${mobile} ${rest}`, 1],
      ]);
    }
    case "DE": {
      const mobile = `1${rng.pick(["51", "52", "60", "62", "70", "71", "76", "79"])}`;
      const area = rng.pick(["30", "89", "40", "221", "69", "211"]);
      return rng.weighted([
        [`+49 ${mobile} ${rng.digits(7)}`, 3],
        [`+49 ${area} ${rng.digits(7)}`, 2],
        [`0${mobile} ${rng.digits(7)}`, 2],
        [`+49 (0)${area} ${rng.digits(4)} ${rng.digits(3)}`, 1],
        [`0${area}/${rng.digits(7)}`, 1],
      ]);
    }
    case "FR": {
      const pairs = () => `${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)}`;
      const lead = rng.pick(["1", "4", "6", "7"]);
      return rng.weighted([
        [`+33 ${lead} ${pairs()}`, 3],
        [`0${lead} ${pairs()}`, 3],
        [`+33 (0)${lead} ${pairs()}`, 1],
        [`0${lead}.${rng.digits(2)}.${rng.digits(2)}.${rng.digits(2)}.${rng.digits(2)}`, 1],
      ]);
    }
    case "AU":
      return rng.weighted([
        [`+61 4${rng.digits(2)} ${rng.digits(3)} ${rng.digits(3)}`, 2],
        [`04${rng.digits(2)} ${rng.digits(3)} ${rng.digits(3)}`, 2],
        [`+61 2 ${rng.int(8, 9)}${rng.digits(3)} ${rng.digits(4)}`, 1],
      ]);
    case "NL":
      return rng.weighted([
        [`+31 6 ${rng.digits(8)}`, 2],
        [`06-${rng.digits(8)}`, 2],
        [`+31 20 ${rng.digits(3)} ${rng.digits(4)}`, 1],
      ]);
    case "ES":
      return rng.weighted([
        [`+34 6${rng.digits(2)} ${rng.digits(3)} ${rng.digits(3)}`, 2],
        [`6${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)}`, 1],
        [`+34 91${rng.digits(1)} ${rng.digits(3)} ${rng.digits(3)}`, 1],
      ]);
    default:
      return northAmericanPhone(rng, "US");
  }
}

const usAreaCodes = ["415", "212", "646", "310", "312", "617", "206", "512", "303", "404", "305", "702", "213", "718", "628", "917"];
const caAreaCodes = ["416", "604", "514", "403", "647", "778"];

function northAmericanPhone(rng: Random, country: "US" | "CA"): string {
  const area = rng.pick(country === "US" ? usAreaCodes : caAreaCodes);
  const exchange = String(rng.int(201, 989));
  let line = rng.digits(4);
  // 555-0100..0199 is the fictional range; real numbers never use it, pseudonyms do
  if (exchange === "555" && line.startsWith("01")) line = `2${line.slice(1)}`;
  return rng.weighted([
    [`+1 ${area} ${exchange} ${line}`, 4],
    [`(${area}) ${exchange}-${line}`, 4],
    [`${area}-${exchange}-${line}`, 2],
    [`${area}.${exchange}.${line}`, 1],
    [`+1-${area}-${exchange}-${line}`, 1],
    [`+1${area}${exchange}${line}`, 1],
    [`1 (${area}) ${exchange}-${line}`, 1],
  ]);
}

/** A postal address in `locale`, shaped for the `address` UDT. */
export function postalAddress(rng: Random, locale: Locale): { street: string; city: string; zip: string; country: string } {
  const [city, zipPrefix] = rng.pick(locale.cities);
  const streetName = rng.pick(locale.streets);
  const number = rng.int(1, 480);
  let street: string;
  let zip: string;
  switch (locale.country) {
    case "DE":
    case "NL":
    case "ES":
      street = `${streetName} ${number}${rng.chance(0.1) ? rng.pick(["a", "b"]) : ""}`;
      zip =
        locale.country === "NL"
          ? `${zipPrefix}${rng.digits(2)} ${rng.chars(2, "ABCDEFGHJKLMNPRSTVWXZ")}`
          : `${zipPrefix}${rng.digits(5 - zipPrefix.length)}`;
      break;
    case "FR":
      street = `${number}${rng.chance(0.1) ? " bis" : ""} ${streetName}`;
      zip = `${zipPrefix}${rng.digits(5 - zipPrefix.length)}`;
      break;
    case "GB":
      street = `${number} ${streetName}`;
      zip = `${zipPrefix} ${rng.int(1, 9)}${rng.chars(2, "ABDEFGHJLNPQRSTUWXYZ")}`;
      break;
    case "CA":
      street = `${number} ${streetName}${rng.chance(0.3) ? `, Suite ${rng.int(100, 2400)}` : ""}`;
      zip = `${zipPrefix} ${rng.int(1, 9)}${rng.chars(1, "ABCEGHJKLMNPRSTVWXYZ")}${rng.int(0, 9)}`;
      break;
    case "AU":
      street = `${rng.chance(0.3) ? `Level ${rng.int(2, 40)}, ` : ""}${number} ${streetName}`;
      zip = `${zipPrefix}${rng.digits(3)}`;
      break;
    default:
      street = `${number} ${streetName}${rng.chance(0.25) ? ` Apt ${rng.int(1, 40)}` : ""}`;
      zip = `${zipPrefix}${rng.digits(5 - zipPrefix.length)}`;
  }
  const country = rng.weighted([
    [locale.country, 8],
    [locale.countryName, 2],
  ]);
  return { street, city, zip, country };
}

/** "Ólafur" → "olafur", "O'Brien" → "obrien", "van der Berg" → "vanderberg": what mailbox names are made of. */
export function asciiSlug(text: string): string {
  return text
    .replace(/[øØ]/g, "o")
    .replace(/[łŁ]/g, "l")
    .replace(/ß/g, "ss")
    .replace(/[æÆ]/g, "ae")
    .replace(/[đĐ]/g, "d")
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "");
}

/** A public IPv4 address (no private, loopback, multicast or documentation ranges) or, sometimes, an IPv6 one. */
export function publicIp(rng: Random): string {
  if (rng.chance(0.15)) {
    const prefix = rng.pick(["2a02", "2a01", "2001:4860", "2600:1700", "2a00:23c5"]);
    const groups = prefix.split(":").length;
    const rest = Array.from({ length: 8 - groups }, () => rng.hex(4).replace(/^0+(?=.)/, ""));
    return [prefix, ...rest].join(":");
  }
  for (;;) {
    const a = rng.int(1, 223);
    const b = rng.int(0, 255);
    const c = rng.int(0, 255);
    if (a === 10 || a === 127 || a === 0 || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254)) continue;
    if ((a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) continue;
    if ((a === 192 && b === 0 && c === 2) || (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113)) continue;
    if (a === 198 && (b === 18 || b === 19)) continue;
    return `${a}.${b}.${c}.${rng.int(1, 254)}`;
  }
}
