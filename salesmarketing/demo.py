"""Demo users and teams for `seed_demo`. Idempotent: running it again changes nothing."""

from __future__ import annotations

from salesmarketing.models import Team, User

DEMO_PASSWORD = "demo-pass-2026"

TEAMS = [
    ("マーケティング部", Team.Kind.MARKETING),
    ("営業一課 (東日本)", Team.Kind.SALES),
    ("営業二課 (西日本)", Team.Kind.SALES),
]

# username, display name, role, team index, manages team
USERS = [
    ("admin", "管理者", User.Role.ADMIN, None, False),
    ("mktg_mgr", "鈴木 健", User.Role.MANAGER, 0, True),
    ("mktg", "佐藤 美咲", User.Role.MARKETING, 0, False),
    ("mktg2", "中村 彩", User.Role.MARKETING, 0, False),
    ("sales_mgr", "高橋 誠", User.Role.MANAGER, 1, True),
    ("rep1", "伊藤 翔太", User.Role.SALES, 1, False),
    ("rep2", "渡辺 さくら", User.Role.SALES, 1, False),
    ("sales_mgr2", "小林 直樹", User.Role.MANAGER, 2, True),
    ("rep3", "山本 大輔", User.Role.SALES, 2, False),
    ("rep4", "加藤 結衣", User.Role.SALES, 2, False),
]


def seed_users() -> dict[str, User]:
    teams = [Team.objects.get_or_create(name=name, defaults={"kind": kind})[0] for name, kind in TEAMS]
    users: dict[str, User] = {}
    for username, display_name, role, team_index, manages in USERS:
        team = teams[team_index] if team_index is not None else None
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username)
            user.set_password(DEMO_PASSWORD)
        user.display_name = display_name
        user.email = f"{username}@demo.example.jp"
        user.role = role
        user.team = team
        user.is_staff = user.is_superuser = role == User.Role.ADMIN
        user.save()
        users[username] = user
        if manages and team.manager_id != user.pk:
            team.manager = user
            team.save(update_fields=["manager"])
    return users
