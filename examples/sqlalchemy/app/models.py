"""The application's models."""
from sqlalchemy import Column, Integer, Text

from .database import Base, mapper_registry


class User(Base):
    """A bot user; the table is users (basemodel.tablename('User'))."""

    name = Column(Text, nullable=False)
    password_hash = Column(Text)  # registered as hidden: SQL to_dict leaves it out
    visits = Column(Integer, nullable=False, server_default="0")


@mapper_registry.mapped
class Tag:
    """A table that existed before basemodel: registered later, its model maps
    only its own columns; env.py's include_object keeps Alembic from dropping
    the ones register added."""

    __tablename__ = "tags"

    name = Column(Text, primary_key=True)
    colour = Column(Text)
