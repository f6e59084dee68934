"""address search: a GIN index on the tokens of subscribers' addresses

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# Why not pg_trgm: the store's databases use the C locale, in which pg_trgm sees no Chinese
# character as part of a word, so '芙蓉路128号3栋502室' has the trigrams of '128 3 502' only;
# and over an ASCII re-encoding of the characters its GIN scan still took 300+ ms at 700,000
# addresses (the few characters every address shares, 号 栋 室 and the digits, match all rows).
# An address is a name run and numbered parts instead: 黄金里 | 213号 | 3栋 | 602室. Those
# tokens are selective, exact in a GIN index (no recheck), and found in about a millisecond.
# gis.lookup.address_tokens is the same function in Python (a test holds them equal).
TOKENS = r"""
CREATE OR REPLACE FUNCTION pianqu_address_tokens(address text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
  SELECT ARRAY(SELECT m[1] FROM regexp_matches(
      lower(regexp_replace(normalize(address, NFKC), '[ \t\n\r\f\v]+', '', 'g')),
      '([0-9]+[^0-9]?|[^0-9]+)', 'g') AS m)
$$
"""


def upgrade() -> None:
    op.execute(TOKENS)
    op.create_index('ix_subscribers_address_tokens', 'subscribers', [sa.text('pianqu_address_tokens(address)')],
                    unique=False, postgresql_using='gin')


def downgrade() -> None:
    op.drop_index('ix_subscribers_address_tokens', table_name='subscribers')
    op.execute("DROP FUNCTION IF EXISTS pianqu_address_tokens(text)")
