import { z } from "zod";
import { ResourceId } from "./common.ts";
import { TokenView, UserRole, UserView } from "./records.ts";

export const WhoamiOutput = z.object({
  user: UserView,
  /** What this role may do, in words (e.g. "developer: own instances only"). */
  summary: z.string(),
});

const TokenName = z.string().trim().min(1, "is empty").max(100, "is longer than 100 characters");

export const TokensListInput = z
  .strictObject({
    /** Another user's tokens: admin only. Default: the caller's own. */
    userId: ResourceId.optional(),
  })
  .optional();
export const TokensListOutput = z.array(TokenView);

export const TokensCreateInput = z.strictObject({
  name: TokenName,
  /** Lifetime in days; absent: until revoked. */
  expiresInDays: z.number().int().min(1).max(3650).optional(),
  /** Create it for another user: admin only. */
  userId: ResourceId.optional(),
});
export const CreatedTokenOutput = z.object({
  token: TokenView,
  /** The secret itself, shown this once and never again. */
  plaintext: z.string(),
});

export const TokensRevokeInput = z.strictObject({ id: ResourceId });
export const TokensRevokeOutput = TokenView;

export const UserName = z
  .string()
  .trim()
  .min(1, "is empty")
  .max(100, "is longer than 100 characters")
  .regex(/^[\p{L}\p{N}._@ -]+$/u, "may hold letters, digits, spaces and . _ @ - only");

export const UsersCreateInput = z.strictObject({
  name: UserName,
  role: UserRole,
  slackUserId: z.string().trim().min(1).max(50).optional(),
  /** Label of the first token made with the user (default "initial"). */
  tokenName: TokenName.optional(),
});
export const UsersCreateOutput = z.object({ user: UserView, token: CreatedTokenOutput });

export const UsersListOutput = z.array(UserView);
